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
		"HUZHU_BINDING_PROOF":              "none",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"redis.addr: \"localhost\" has no port (example: 127.0.0.1:6379)", "log.level", "notify.quiet_start",
		"security.pii_key", "security.session_secret", "wechat.oa.encoding_aes_key", "notify.sms.provider: must be http in prod",
		"binding.proof: none is refused in prod", `http.public_url: "http://127.0.0.1:8080": must be set in prod`} {
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

func TestCalendarExtraDays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huzhu.yaml")
	good := "calendar:\n  extra_days:\n    - {date: 2028-10-02, name: 国庆节}\n    - {date: 2028-09-24, work: true, name: 国庆节}\n"
	os.WriteFile(path, []byte(good), 0o600)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatalf("Load(good days): %v", err)
	}
	if len(cfg.Calendar.ExtraDays) != 2 || !cfg.Calendar.ExtraDays[1].Work {
		t.Errorf("extra days = %+v", cfg.Calendar.ExtraDays)
	}
	bad := "calendar:\n  extra_days:\n    - {date: 2028/10/02, name: 国庆节}\n    - {date: 2028-10-03}\n" +
		"    - {date: 2028-10-04, work: true, name: 国庆节}\n    - {date: 2028-10-03, name: 国庆节}\n"
	os.WriteFile(path, []byte(bad), 0o600)
	_, err = Load(path, env(nil))
	if err == nil {
		t.Fatal("bad extra days accepted")
	}
	for _, want := range []string{`calendar.extra_days[0].date: "2028/10/02" is not a date`, "calendar.extra_days[1].name: is empty",
		"calendar.extra_days[2].work: 2028-10-04 is a Wednesday", "calendar.extra_days[3].date: 2028-10-03 is given twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestWeChatFakeRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" for accepted
	}{
		{"dev without app ids", map[string]string{"HUZHU_WECHAT_FAKE": "true"}, ""},
		{"prod", map[string]string{"HUZHU_ENV": "prod", "HUZHU_WECHAT_FAKE": "true"}, "wechat.fake: the stand-in WeChat is for the demo and development only, refused in prod"},
		{"beside a real mini-program", map[string]string{"HUZHU_WECHAT_FAKE": "1", "HUZHU_WECHAT_MP_APP_ID": "wx0123"}, "wechat.fake: the stand-in WeChat brings its own demo accounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("", env(tc.env))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load = %v, want accepted", err)
			case tc.want == "" && !cfg.WeChat.Fake:
				t.Fatal("Load: wechat.fake is false, want true")
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBindingProof(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // "" valid, else a part of the error
	}{
		{map[string]string{}, ""},
		{map[string]string{"HUZHU_BINDING_PROOF": "none"}, ""},
		{map[string]string{"HUZHU_BINDING_PROOF": "wechat_phone", "HUZHU_WECHAT_MP_APP_ID": "wx1", "HUZHU_WECHAT_MP_APP_SECRET": "s"}, ""},
		{map[string]string{"HUZHU_BINDING_PROOF": "wechat_phone"}, "binding.proof: wechat_phone needs the mini-program"},
		{map[string]string{"HUZHU_BINDING_PROOF": "phone"}, `binding.proof: "phone" is not wechat_phone, sms or none`},
	}
	for _, tc := range tests {
		cfg, err := Load("", env(tc.env))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Load(%v) = %v, want valid", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Load(%v) = %v, want %q", tc.env, err, tc.want)
		case tc.want == "" && tc.env["HUZHU_BINDING_PROOF"] == "" && cfg.Binding.Proof != "sms":
			t.Errorf("default proof = %q, want sms", cfg.Binding.Proof)
		}
	}
}

func TestClaimsConfig(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"HUZHU_CLAIMS_S3_ENDPOINT": "https://oss.example:9000", "HUZHU_CLAIMS_S3_BUCKET": "docs",
		"HUZHU_CLAIMS_S3_ACCESS_KEY": "AKEXAMPLE", "HUZHU_CLAIMS_S3_SECRET_KEY": "s3cr3t-value", "HUZHU_CLAIMS_KEEP_DAYS": "90"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Claims.S3.Bucket != "docs" || cfg.Claims.KeepDays != 90 || cfg.Claims.MaxDocMB != 10 {
		t.Errorf("claims = %+v", cfg.Claims)
	}
	if strings.Contains(cfg.String(), "s3cr3t-value") {
		t.Error("String() shows the object store's secret key")
	}
	_, err = Load("", env(map[string]string{"HUZHU_CLAIMS_S3_ENDPOINT": "https://oss.example:9000", "HUZHU_CLAIMS_MAX_DOC_MB": "500",
		"HUZHU_CLAIMS_KEEP_DAYS": "0"}))
	for _, want := range []string{"claims.s3: endpoint is set but bucket", "claims.max_doc_mb", "claims.keep_days"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestOAMessageMode: wechat.oa.mode takes WeChat's three modes, defaults from the key, and is
// refused where it would contradict the key.
func TestOAMessageMode(t *testing.T) {
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	tests := []struct {
		name, mode, key string
		want, problem   string
	}{
		{"no key: plain", "", "", ModePlain, ""},
		{"key: safe", "", key, ModeSafe, ""},
		{"compatible with a key", "compatible", key, ModeCompatible, ""},
		{"safe with a key", "safe", key, ModeSafe, ""},
		{"plain without a key", "plain", "", ModePlain, ""},
		{"plain with a key", "plain", key, "", "wechat.oa.mode: is plain while wechat.oa.encoding_aes_key is set"},
		{"safe without a key", "safe", "", "", "wechat.oa.mode: is safe, which needs wechat.oa.encoding_aes_key"},
		{"compatible without a key", "compatible", "", "", "wechat.oa.mode: is compatible, which needs"},
		{"unknown mode", "aes", key, "", `wechat.oa.mode: "aes" is not a message encryption mode`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("", env(map[string]string{"HUZHU_WECHAT_OA_MODE": tc.mode, "HUZHU_WECHAT_OA_ENCODING_AES_KEY": tc.key}))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.Contains(err.Error(), "(example: ") {
					t.Fatalf("Load(mode %q) = %v, want %q with an example", tc.mode, err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.WeChat.OA.MessageMode(); got != tc.want {
				t.Errorf("MessageMode() = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := Load("", env(map[string]string{"HUZHU_WECHAT_MP_MODE": "safe"})); err == nil || !strings.Contains(err.Error(), "wechat.mp.mode") {
		t.Errorf("wechat.mp.mode accepted: %v", err)
	}
}
