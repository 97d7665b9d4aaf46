package config

// The lab file's JSON Schema, from the types in this package (see pkg/config/labschema).
//go:generate go run ./labschema/gen ../../configs/lab.schema.json
