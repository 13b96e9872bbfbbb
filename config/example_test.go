package config

import (
	"strings"
	"testing"
)

// TestExampleConfigLoads keeps docs/config.example.yaml true: it must parse with the secrets
// given from the environment as the README says.
func TestExampleConfigLoads(t *testing.T) {
	env := map[string]string{
		"HUZHU_SECURITY_PII_KEY":        strings.Repeat("p", 40),
		"HUZHU_SECURITY_SESSION_SECRET": strings.Repeat("s", 40),
		"HUZHU_SECURITY_PII_KEY_FILE":   "",
	}
	_, err := Load("../docs/config.example.yaml", func(k string) string { return env[k] })
	// The *_file keys point at /run/secrets, absent here; everything else must be valid.
	if err == nil || !strings.Contains(err.Error(), "/run/secrets/huzhu_pii_key") || strings.Count(err.Error(), "\n") > 1 {
		t.Fatalf("Load(example) = %v, want only the missing secret files reported", err)
	}
}
