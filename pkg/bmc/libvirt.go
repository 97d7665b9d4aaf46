package bmc

func newLibvirt(c Config) (Driver, error) { return nil, ErrNotSupported }
