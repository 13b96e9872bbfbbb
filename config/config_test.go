package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load defaults: %v", err)
	}
	if cfg.Database.SQLitePath == "" || cfg.Redis.Addr != "" {
		t.Errorf("defaults should use SQLite and no Redis: %+v", cfg.Database)
	}
}

func TestFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huzhu.yaml")
	os.WriteFile(path, []byte("http:\n  addr: 0.0.0.0:9000\nnotify:\n  lease: 90s\n"), 0o600)
	cfg, err := Load(path, env(map[string]string{"HUZHU_HTTP_ADDR": "127.0.0.1:9100", "HUZHU_DATABASE_MYSQL_DSN": "u:p@tcp(db:3306)/huzhu",
		"HUZHU_NOTIFY_RATE_PER_SECOND": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9100" || cfg.Notify.RatePerSecond != 50 || cfg.Notify.Lease != 90*time.Second {
		t.Errorf("env did not override the file: addr %s rate %d lease %v", cfg.HTTP.Addr, cfg.Notify.RatePerSecond, cfg.Notify.Lease)
	}
	if strings.Contains(cfg.String(), "u:p@") {
		t.Error("String() shows the DSN password")
	}
}

func TestBadValuesAllReported(t *testing.T) {
	_, err := Load("", env(map[string]string{
		"HUZHU_ENV":                        "prod",
		"HUZHU_REDIS_ADDR":                 "localhost",
		"HUZHU_LOG_LEVEL":                  "loud",
		"HUZHU_NOTIFY_QUIET_START":         "25:00",
		"HUZHU_WECHAT_OA_ENCODING_AES_KEY": "short",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"redis.addr: \"localhost\" has no port (example: 127.0.0.1:6379)", "log.level", "notify.quiet_start",
		"security.pii_key", "security.session_secret", "wechat.oa.encoding_aes_key", "notify.sms.provider: must be http in prod",
		`http.public_url: "http://127.0.0.1:8080": must be set in prod`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestPublicURLInProd: the bot's replies and menus link to http.public_url, so prod refuses to
// start while it is left at the loopback default or is not an http(s) URL (issue 16: replies
// linked to http://127.0.0.1:8080).
func TestPublicURLInProd(t *testing.T) {
	prod := map[string]string{"HUZHU_ENV": "prod", "HUZHU_SECURITY_PII_KEY": strings.Repeat("k", 40),
		"HUZHU_SECURITY_SESSION_SECRET": strings.Repeat("s", 40), "HUZHU_REDIS_ADDR": "127.0.0.1:6379", "HUZHU_NOTIFY_SMS_PROVIDER": "http",
		"HUZHU_NOTIFY_SMS_URL": "https://sms.example.org/send"}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", false}, {"http://localhost:8080", false}, {"http://[::1]:8080", false}, {"huzhu.example.org", false},
		{"https://huzhu.example.org", true},
	} {
		e := map[string]string{}
		for k, v := range prod {
			e[k] = v
		}
		if tc.url != "" {
			e["HUZHU_HTTP_PUBLIC_URL"] = tc.url
		}
		_, err := Load("", env(e))
		if bad := err != nil && strings.Contains(err.Error(), "http.public_url"); bad == tc.ok {
			t.Errorf("prod with public_url %q: err = %v, want refused %v", tc.url, err, !tc.ok)
		}
	}
}

func TestMalformedAndMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil)); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: err = %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("http:\n  adr: x\n"), 0o600)
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Errorf("unknown key: err = %v, want it named", err)
	}
	if _, err := Load("", env(map[string]string{"HUZHU_HTTP_READ_TIMEOUT": "soon"})); err == nil || !strings.Contains(err.Error(), "HUZHU_HTTP_READ_TIMEOUT") {
		t.Errorf("bad env duration: err = %v", err)
	}
}

func TestSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte(strings.Repeat("s", 40)+"\n"), 0o600)
	cfg, err := Load("", env(map[string]string{"HUZHU_SECURITY_PII_KEY_FILE": path}))
	if err != nil || cfg.Security.PIIKey != strings.Repeat("s", 40) {
		t.Fatalf("pii key from file: %v", err)
	}
}
