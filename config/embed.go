package config

import _ "embed" // for go:embed

// PolicyYAML is the shipped policy file (policy.yaml): the plan's effective-dated versions, each
// figure marked with its source. service/policy parses and validates it; treat it as read-only,
// since every caller shares the same bytes.
//
//go:embed policy.yaml
var PolicyYAML []byte
