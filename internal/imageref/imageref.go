// Package imageref reads the registry out of a container image reference, as a node's
// container runtime does before it pulls.
package imageref

import "strings"

// Registry is the registry host of an image reference, lower case (docker's rule: the first
// path component is a host if it has a dot or a port, or is localhost; else Docker Hub).
func Registry(image string) string {
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return strings.ToLower(first)
	}
	return "docker.io"
}

// LookupHost is the name a node looks up to pull from registry: Docker Hub's API is on
// registry-1.docker.io, and a port is not part of the name.
func LookupHost(registry string) string {
	if registry == "docker.io" {
		return "registry-1.docker.io"
	}
	if h, _, found := strings.Cut(registry, ":"); found {
		return h
	}
	return registry
}
