package bmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"
)

const mediaPatchWhy = "%s has no InsertMedia/EjectMedia actions: media are inserted and ejected by PATCH"

// vmedia is a CD-capable VirtualMedia as the BMC shows it.
type vmedia struct {
	path     string
	location string // System or Manager
	image    string
	inserted bool
	etag     string
	insert   string // InsertMedia action target; "" when the BMC has none (PATCH it)
	info     string // its @Redfish.ActionInfo
	eject    string // EjectMedia action target
}

type actionParam struct {
	Name            string
	Required        bool
	AllowableValues []string
}

// cd finds a VirtualMedia that takes a CD or DVD image: under the System (the newer layout)
// or under the Manager that manages it (the older one, Dell's, HPE's, Lenovo's).
func (d *redfishDriver) cd(ctx context.Context) (*vmedia, error) {
	sys, err := d.system(ctx)
	if err != nil {
		return nil, err
	}
	media, err := sys.VirtualMedia()
	if err != nil {
		return nil, fmt.Errorf("list the system's virtual media: %w", redfishErr(err))
	}
	location := "System"
	if len(media) == 0 {
		location = "Manager"
		managers, err := sys.ManagedBy()
		if err != nil {
			return nil, fmt.Errorf("list the system's managers: %w", redfishErr(err))
		}
		for _, m := range managers {
			mm, err := m.VirtualMedia()
			if err != nil {
				return nil, fmt.Errorf("list manager %s's virtual media: %w", m.ID, redfishErr(err))
			}
			media = append(media, mm...)
		}
	}
	for _, m := range media {
		if slices.Contains(m.MediaTypes, schemas.CDVirtualMediaType) || slices.Contains(m.MediaTypes, schemas.DVDVirtualMediaType) {
			return d.readMedia(ctx, m.ODataID, location)
		}
	}
	return nil, fmt.Errorf("%w: no CD/DVD virtual media under the system or its managers", ErrNotSupported)
}

// readMedia reads one VirtualMedia as it is now (state, ETag, actions).
func (d *redfishDriver) readMedia(ctx context.Context, path, location string) (*vmedia, error) {
	var doc struct {
		Image    *string
		Inserted *bool
		Actions  struct {
			Insert *struct {
				Target string `json:"target"`
				Info   string `json:"@Redfish.ActionInfo"`
			} `json:"#VirtualMedia.InsertMedia"`
			Eject *struct {
				Target string `json:"target"`
			} `json:"#VirtualMedia.EjectMedia"`
		}
	}
	etag, err := d.getJSON(ctx, path, &doc)
	if err != nil {
		return nil, err
	}
	m := &vmedia{path: path, location: location, etag: etag}
	if doc.Image != nil {
		m.image = *doc.Image
	}
	m.inserted = doc.Inserted != nil && *doc.Inserted
	if a := doc.Actions.Insert; a != nil && a.Target != "" {
		m.insert, m.info = a.Target, a.Info
	}
	if a := doc.Actions.Eject; a != nil {
		m.eject = a.Target
	}
	return m, nil
}

// getJSON GETs path into v and returns its ETag (header, else @odata.etag).
func (d *redfishDriver) getJSON(ctx context.Context, path string, v any) (string, error) {
	api, err := d.api(ctx)
	if err != nil {
		return "", err
	}
	resp, err := api.Get(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, redfishErr(err))
	}
	defer schemas.DeferredCleanupHTTPResponse(resp)
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		var e struct {
			ETag string `json:"@odata.etag"`
		}
		_ = json.Unmarshal(raw, &e)
		etag = e.ETag
	}
	return etag, nil
}

// insertPlan is what an insert sends besides Image.
type insertPlan struct {
	flags    bool   // Inserted and WriteProtected
	protocol string // TransferProtocolType; "" not sent
}

func (p insertPlan) body(image string) map[string]any {
	b := map[string]any{"Image": image}
	if p.flags {
		b["Inserted"], b["WriteProtected"] = true, true
	}
	if p.protocol != "" {
		b["TransferProtocolType"] = p.protocol
	}
	return b
}

func (p insertPlan) parameters() []string {
	ps := []string{"Image"}
	if p.flags {
		ps = append(ps, "Inserted", "WriteProtected")
	}
	if p.protocol != "" {
		ps = append(ps, "TransferProtocolType")
	}
	return ps
}

// transferProtocol is the TransferProtocolType of an image URL's scheme.
func transferProtocol(image string) string {
	u, err := url.Parse(image)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "HTTP"
	case "https":
		return "HTTPS"
	case "nfs":
		return "NFS"
	case "smb", "cifs":
		return "CIFS"
	case "ftp":
		return "FTP"
	case "sftp":
		return "SFTP"
	}
	return ""
}

// plan decides the insert's parameters, in this order: the action's ActionInfo, where there
// is one, says which parameters exist (Inserted and WriteProtected are sent only if listed)
// and which are required (TransferProtocolType is sent if required, with a value it allows);
// then what this BMC refused before (see InsertMedia) removes or adds them; by default the
// insert sends Image, Inserted and WriteProtected.
func (d *redfishDriver) plan(ctx context.Context, m *vmedia, image string) (insertPlan, error) {
	p := insertPlan{flags: true}
	if m.insert != "" && m.info != "" {
		var info struct{ Parameters []actionParam }
		if _, err := d.getJSON(ctx, m.info, &info); err != nil {
			return p, err
		}
		params := map[string]actionParam{}
		for _, ap := range info.Parameters {
			params[ap.Name] = ap
		}
		if len(params) > 0 {
			_, ins := params["Inserted"]
			_, wp := params["WriteProtected"]
			if !ins || !wp {
				p.flags = false
				d.take(fallbackNoOptional, "the InsertMedia ActionInfo %s does not list Inserted and WriteProtected: inserts send neither", m.info)
			}
			if tp, ok := params["TransferProtocolType"]; ok && tp.Required {
				p.protocol = transferProtocol(image)
				if p.protocol == "" || (len(tp.AllowableValues) > 0 && !slices.Contains(tp.AllowableValues, p.protocol)) {
					return p, fmt.Errorf("%w: the BMC needs a TransferProtocolType of %v for %s", ErrNotSupported, tp.AllowableValues, image)
				}
			}
		}
	}
	if d.has(fallbackNoOptional) {
		p.flags = false
	}
	if d.has(fallbackTransferProto) && p.protocol == "" {
		p.protocol = transferProtocol(image)
	}
	return p, nil
}

// InsertMedia attaches image, ejecting another image first; the same image already inserted
// is left alone. It uses the InsertMedia action, or PATCHes the media where the BMC has no
// action (Lenovo XCC). The parameters come from plan; then a 400 answer that names
// Inserted or WriteProtected is answered by sending neither, and one that names
// TransferProtocolType by adding it (from the URL's scheme). What was learnt holds for later
// inserts on this BMC.
func (d *redfishDriver) InsertMedia(ctx context.Context, image string) error {
	m, err := d.cd(ctx)
	if err != nil {
		return err
	}
	if m.inserted && m.image == image {
		return nil
	}
	if m.inserted || m.image != "" {
		if err := d.ejectMedia(ctx, m); err != nil {
			return fmt.Errorf("eject %s from %s: %w", m.image, m.path, err)
		}
		if m, err = d.readMedia(ctx, m.path, m.location); err != nil { // a fresh ETag
			return err
		}
	}
	if m.insert == "" {
		d.take(fallbackMediaPatch, mediaPatchWhy, m.path)
	}
	for try := 0; try < 4; try++ {
		p, err := d.plan(ctx, m, image)
		if err != nil {
			return err
		}
		if m.insert != "" {
			err = d.post(ctx, m.insert, p.body(image))
		} else {
			err = d.patch(ctx, m.path, m.etag, p.body(image))
		}
		switch {
		case err == nil:
			return nil
		case schemas.Is412PreconditionFailed(err):
			if m, err = d.readMedia(ctx, m.path, m.location); err != nil {
				return err
			}
			continue
		case !errors.Is(err, ErrInvalid):
		case p.flags && (strings.Contains(err.Error(), "Inserted") || strings.Contains(err.Error(), "WriteProtected")):
			// The answer's text is not logged: a BMC may echo the image URL and its credentials.
			d.take(fallbackNoOptional, "the BMC answered 400 naming Inserted/WriteProtected: inserts send neither")
			continue
		case p.protocol == "" && strings.Contains(err.Error(), "TransferProtocolType") && transferProtocol(image) != "":
			d.take(fallbackTransferProto, "the BMC answered 400 naming TransferProtocolType: inserts send it, from the URL's scheme")
			continue
		}
		return fmt.Errorf("insert into %s: %w", m.path, err)
	}
	return fmt.Errorf("insert into %s: the BMC refused every form of the request", m.path)
}

// EjectMedia detaches whatever the CD holds.
func (d *redfishDriver) EjectMedia(ctx context.Context) error {
	m, err := d.cd(ctx)
	if err != nil {
		return err
	}
	if !m.inserted && m.image == "" {
		return nil
	}
	if err := d.ejectMedia(ctx, m); err != nil {
		return fmt.Errorf("eject %s: %w", m.path, err)
	}
	return nil
}

// ejectMedia posts EjectMedia with an empty object (HPE iLO refuses any other body), or
// PATCHes Image null and Inserted false where there is no action: Inserted false alone
// leaves the image on some BMCs.
func (d *redfishDriver) ejectMedia(ctx context.Context, m *vmedia) error {
	if m.eject != "" {
		return d.post(ctx, m.eject, map[string]any{})
	}
	d.take(fallbackMediaPatch, mediaPatchWhy, m.path)
	err := d.patch(ctx, m.path, m.etag, map[string]any{"Image": nil, "Inserted": false})
	if schemas.Is412PreconditionFailed(err) {
		fresh, rerr := d.readMedia(ctx, m.path, m.location)
		if rerr != nil {
			return rerr
		}
		err = d.patch(ctx, m.path, fresh.etag, map[string]any{"Image": nil, "Inserted": false})
	}
	return err
}

func (d *redfishDriver) post(ctx context.Context, uri string, body any) error {
	api, err := d.api(ctx)
	if err != nil {
		return err
	}
	resp, err := api.Post(uri, body)
	if err != nil {
		return redfishErr(err)
	}
	return schemas.CleanupHTTPResponse(resp)
}
