// Package config is huzhu's typed configuration: defaults, then a YAML file, then HUZHU_*
// environment variables, then Validate, which reports every problem at once with the key, what
// is wrong and an example. Secrets have no defaults; they come from the environment or from a
// file named by a *_file key, and are masked when the configuration is printed.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything huzhu can be told.
type Config struct {
	Env      string   `yaml:"env"` // dev or prod
	HTTP     HTTP     `yaml:"http"`
	Database Database `yaml:"database"`
	Redis    Redis    `yaml:"redis"`
	Security Security `yaml:"security"`
	WeChat   WeChat   `yaml:"wechat"`
	Notify   Notify   `yaml:"notify"`
	Calendar Calendar `yaml:"calendar"`
	Binding  Binding  `yaml:"binding"`
	Claims   Claims   `yaml:"claims"`
	Log      Log      `yaml:"log"`
}

// Claims configures the documents of supplementary claims: where they are kept (sealed), how big
// they may be and how long they stay after the claim is settled or withdrawn. With S3.Endpoint
// set they go to S3-compatible object storage (production); otherwise to DocumentDir.
type Claims struct {
	DocumentDir string      `yaml:"document_dir"`
	S3          ObjectStore `yaml:"s3"`
	MaxDocMB    int         `yaml:"max_doc_mb"`
	KeepDays    int         `yaml:"keep_days"`
}

// ObjectStore names an S3-compatible bucket.
type ObjectStore struct {
	Endpoint  string `yaml:"endpoint"` // https://host:port, or host:port (https)
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key" secret:"true"`
	SecretKey string `yaml:"secret_key" secret:"true"`
}

// Binding configures how workers bind their WeChat account to their roster entry. Proof is how
// they prove the roster phone is theirs: "wechat_phone" (the mini-program's phone-number
// button, SMS as the fallback), "sms" (a code sent to the roster phone) or "none" (the typed
// roster facts alone: dev only, refused in prod).
type Binding struct {
	Proof string `yaml:"proof"`
}

// HTTP configures the Fiber server.
type HTTP struct {
	Addr            string        `yaml:"addr"`
	BodyLimitKB     int           `yaml:"body_limit_kb"`
	UploadLimitMB   int           `yaml:"upload_limit_mb"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	PublicURL       string        `yaml:"public_url"` // how workers' phones reach us, for links
	TrustedProxies  []string      `yaml:"trusted_proxies"`
}

// Database selects MySQL (when MySQLDSN is set) or the embedded SQLite file.
type Database struct {
	MySQLDSN     string `yaml:"mysql_dsn" secret:"true"`
	SQLitePath   string `yaml:"sqlite_path"`
	MaxOpenConns int    `yaml:"max_open_conns"`
}

// Redis is used when Addr is set; otherwise state stays in-process (one instance only).
type Redis struct {
	Addr     string `yaml:"addr"`
	Password string `yaml:"password" secret:"true"`
	DB       int    `yaml:"db"`
	Prefix   string `yaml:"prefix"`
}

// Security holds the keys. PIIKey encrypts personal numbers; SessionSecret signs worker tokens.
type Security struct {
	PIIKey            string `yaml:"pii_key" secret:"true"`
	PIIKeyFile        string `yaml:"pii_key_file"`
	SessionSecret     string `yaml:"session_secret" secret:"true"`
	SessionSecretFile string `yaml:"session_secret_file"`
	// DevKeyFile keeps generated keys in dev so that a restart can still read the demo data.
	DevKeyFile string `yaml:"dev_key_file"`
}

// WeChat configures the official account and the mini-program.
type WeChat struct {
	APIBase     string        `yaml:"api_base"`
	HTTPTimeout time.Duration `yaml:"http_timeout"`
	OA          WeChatApp     `yaml:"oa"`
	MP          WeChatApp     `yaml:"mp"`
	Templates   Templates     `yaml:"templates"`
	Menu        []MenuButton  `yaml:"menu"`
	// Fake makes `huzhu serve` start a stand-in for WeChat's server API on loopback and use it
	// with demo accounts (no app ids may be set): `serve --demo` turns it on when no WeChat
	// account is configured. Refused in prod.
	Fake bool `yaml:"fake"`
}

// WeChatApp is one WeChat application's credentials.
type WeChatApp struct {
	AppID          string `yaml:"app_id"`
	AppSecret      string `yaml:"app_secret" secret:"true"`
	Token          string `yaml:"token" secret:"true"`
	EncodingAESKey string `yaml:"encoding_aes_key" secret:"true"`
	// Mode is the official account's message encryption (消息加解密方式), as chosen in WeChat's
	// 服务器配置: "plain" (明文), "compatible" (兼容: plain and encrypted both accepted, while
	// switching) or "safe" (安全: encrypted only). Empty: safe when EncodingAESKey is set,
	// plain otherwise. Official account only.
	Mode string `yaml:"mode"`
}

// Message encryption modes of the official account's callback (wechat.oa.mode).
const (
	ModePlain      = "plain"
	ModeCompatible = "compatible"
	ModeSafe       = "safe"
)

// MessageMode returns the callback's encryption mode: Mode, or its default (safe when an
// EncodingAESKey is set, plain otherwise).
func (a WeChatApp) MessageMode() string {
	switch {
	case a.Mode != "":
		return a.Mode
	case a.EncodingAESKey != "":
		return ModeSafe
	}
	return ModePlain
}

// Templates are the WeChat template ids of each notice kind.
type Templates struct {
	OAArrived  string `yaml:"oa_arrived"`
	OAApproved string `yaml:"oa_approved"`
	OAFailed   string `yaml:"oa_failed"`
	MPArrived  string `yaml:"mp_arrived"`
	MPApproved string `yaml:"mp_approved"`
	MPFailed   string `yaml:"mp_failed"`
}

// MenuButton is one official-account menu button; Key for click buttons, URL or page for others.
type MenuButton struct {
	Name     string       `yaml:"name"`
	Type     string       `yaml:"type"` // click, view, miniprogram
	Key      string       `yaml:"key"`
	URL      string       `yaml:"url"`
	PagePath string       `yaml:"pagepath"`
	Sub      []MenuButton `yaml:"sub"`
}

// Notify configures the arrival-notice dispatcher.
type Notify struct {
	Enabled       bool          `yaml:"enabled"`
	RatePerSecond int           `yaml:"rate_per_second"`
	QuietStart    string        `yaml:"quiet_start"` // "22:00", Asia/Shanghai
	QuietEnd      string        `yaml:"quiet_end"`
	MaxAttempts   int           `yaml:"max_attempts"`
	Batch         int           `yaml:"batch"`
	Lease         time.Duration `yaml:"lease"`
	SMS           SMS           `yaml:"sms"`
}

// SMS selects the SMS provider: "log" writes to the log (dev), "http" posts to URL.
type SMS struct {
	Provider string `yaml:"provider"`
	URL      string `yaml:"url"`
	APIKey   string `yaml:"api_key" secret:"true"`
}

// Calendar adds official days that the holiday library does not carry yet. The State Council
// publishes next year's public holidays and make-up working days each autumn; until a release
// brings a library that knows them, staff add them here so that promised arrival dates skip them.
type Calendar struct {
	ExtraDays []CalendarDay `yaml:"extra_days"`
}

// CalendarDay is one official day: a public holiday day off, or (Work) a make-up working day on
// a weekend. It adds to or overrides the library's data for that date.
type CalendarDay struct {
	Date string `yaml:"date"` // "2027-10-01"
	Work bool   `yaml:"work"` // true: a make-up working day (调休上班)
	Name string `yaml:"name"` // the holiday's name, e.g. 国庆节
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Default returns the configuration of a bare machine: SQLite under ./data, no Redis, dev mode.
func Default() Config {
	return Config{
		Env: "dev",
		HTTP: HTTP{Addr: "127.0.0.1:8080", BodyLimitKB: 256, UploadLimitMB: 200, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, ShutdownTimeout: 15 * time.Second, PublicURL: "http://127.0.0.1:8080"},
		Database: Database{SQLitePath: "data/huzhu.db", MaxOpenConns: 32},
		Redis:    Redis{Prefix: "huzhu:"},
		Security: Security{DevKeyFile: "data/dev-keys.yaml"},
		WeChat:   WeChat{APIBase: "https://api.weixin.qq.com", HTTPTimeout: 10 * time.Second},
		Notify: Notify{Enabled: true, RatePerSecond: 200, QuietStart: "22:00", QuietEnd: "08:00", MaxAttempts: 8, Batch: 100,
			Lease: 60 * time.Second, SMS: SMS{Provider: "log"}},
		// sms in every environment by default: in dev the log provider writes the code to the
		// log, so the demo binds without a verified mini-program; prod needs the http provider.
		Binding: Binding{Proof: "sms"},
		Claims:  Claims{DocumentDir: "data/claim-docs", MaxDocMB: 10, KeepDays: 180},
		Log:     Log{Level: "info", Format: "json"},
	}
}

// Load reads path (optional: "" means defaults only), applies HUZHU_* variables from getenv and
// validates. A missing or malformed file is an error naming the file and line.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config file %s is not valid YAML for huzhu: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "HUZHU", getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.readSecretFiles(); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// applyEnv sets each field from HUZHU_<SECTION>_<KEY> when that variable is set, e.g.
// HUZHU_DATABASE_MYSQL_DSN or HUZHU_WECHAT_OA_APP_ID.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	var errs []error
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, getenv); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setField(fv, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, mask(f, raw), err))
		}
	}
	return errors.Join(errs...)
}

func mask(f reflect.StructField, raw string) string {
	if f.Tag.Get("secret") == "true" {
		return "***"
	}
	return raw
}

func setField(fv reflect.Value, raw string) error {
	switch fv.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration (example: 30s)")
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		fv.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		fv.SetBool(b)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment; use the config file")
		}
		parts := strings.Split(raw, ",")
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("cannot be set from the environment; use the config file")
	}
	return nil
}

func (c *Config) readSecretFiles() error {
	var errs []error
	read := func(key, file string, dst *string) {
		if file == "" {
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = strings.TrimSpace(string(b))
	}
	read("security.pii_key_file", c.Security.PIIKeyFile, &c.Security.PIIKey)
	read("security.session_secret_file", c.Security.SessionSecretFile, &c.Security.SessionSecret)
	return errors.Join(errs...)
}

// Validate reports every problem, each as "key: problem (example: …)".
func (c Config) Validate() error {
	var errs []error
	bad := func(key, problem, example string) {
		errs = append(errs, fmt.Errorf("%s: %s (example: %s)", key, problem, example))
	}
	if c.Env != "dev" && c.Env != "prod" {
		bad("env", fmt.Sprintf("%q is neither dev nor prod", c.Env), "prod")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", fmt.Sprintf("%q is not host:port", c.HTTP.Addr), "0.0.0.0:8080")
	}
	if c.HTTP.BodyLimitKB <= 0 || c.HTTP.BodyLimitKB > 10240 {
		bad("http.body_limit_kb", fmt.Sprintf("%d is outside 1..10240", c.HTTP.BodyLimitKB), "256")
	}
	if c.HTTP.UploadLimitMB <= 0 || c.HTTP.UploadLimitMB > 2048 {
		bad("http.upload_limit_mb", fmt.Sprintf("%d is outside 1..2048", c.HTTP.UploadLimitMB), "200")
	}
	if c.Claims.MaxDocMB <= 0 || c.Claims.MaxDocMB > 50 || c.Claims.MaxDocMB >= c.HTTP.UploadLimitMB {
		bad("claims.max_doc_mb", fmt.Sprintf("%d is outside 1..50 or not below http.upload_limit_mb", c.Claims.MaxDocMB), "10")
	}
	if c.Claims.KeepDays <= 0 || c.Claims.KeepDays > 3650 {
		bad("claims.keep_days", fmt.Sprintf("%d is outside 1..3650", c.Claims.KeepDays), "180")
	}
	if o := c.Claims.S3; o.Endpoint != "" && (o.Bucket == "" || o.AccessKey == "" || o.SecretKey == "") {
		bad("claims.s3", "endpoint is set but bucket, access_key or secret_key is missing", "bucket: huzhu-docs, HUZHU_CLAIMS_S3_ACCESS_KEY=…")
	}
	if c.Claims.S3.Endpoint == "" && c.Claims.DocumentDir == "" {
		bad("claims.document_dir", "neither a directory nor s3.endpoint is set", "data/claim-docs")
	}
	if c.Database.MySQLDSN == "" && c.Database.SQLitePath == "" {
		bad("database", "neither mysql_dsn nor sqlite_path is set", "sqlite_path: data/huzhu.db")
	}
	if c.Database.MySQLDSN != "" && !strings.Contains(c.Database.MySQLDSN, "@") && !strings.Contains(c.Database.MySQLDSN, "/") {
		bad("database.mysql_dsn", "does not look like a DSN", "huzhu:secret@tcp(127.0.0.1:3306)/huzhu")
	}
	if c.Redis.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
			bad("redis.addr", fmt.Sprintf("%q has no port", c.Redis.Addr), "127.0.0.1:6379")
		}
	}
	if c.Env == "prod" {
		if len(c.Security.PIIKey) < 32 {
			bad("security.pii_key", "must be set in prod, at least 32 characters, from HUZHU_SECURITY_PII_KEY or pii_key_file", "HUZHU_SECURITY_PII_KEY=$(openssl rand -base64 48)")
		}
		if len(c.Security.SessionSecret) < 32 {
			bad("security.session_secret", "must be set in prod, at least 32 characters", "HUZHU_SECURITY_SESSION_SECRET=$(openssl rand -base64 48)")
		}
		if c.Redis.Addr == "" {
			bad("redis.addr", "must be set in prod: without Redis sessions and rate limits are per instance", "127.0.0.1:6379")
		}
		if c.Notify.SMS.Provider == "log" {
			bad("notify.sms.provider", "must be http in prod: the log provider sends nothing and writes binding codes to the log", "http")
		}
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || loopback(u.Hostname()) {
			bad("http.public_url", fmt.Sprintf("%q: must be set in prod to the address workers' phones reach, since the bot's replies and menus link to it", c.HTTP.PublicURL),
				"HUZHU_HTTP_PUBLIC_URL=https://huzhu.example.org")
		}
	} else if c.Security.PIIKey != "" && len(c.Security.PIIKey) < 32 {
		bad("security.pii_key", "is shorter than 32 characters", "HUZHU_SECURITY_PII_KEY=$(openssl rand -base64 48)")
	}
	if !strings.HasPrefix(c.WeChat.APIBase, "http://") && !strings.HasPrefix(c.WeChat.APIBase, "https://") {
		bad("wechat.api_base", fmt.Sprintf("%q is not an http(s) URL", c.WeChat.APIBase), "https://api.weixin.qq.com")
	}
	if c.WeChat.Fake {
		if c.Env == "prod" {
			bad("wechat.fake", "the stand-in WeChat is for the demo and development only, refused in prod", "fake: false, with wechat.oa and wechat.mp set")
		}
		if c.WeChat.OA.AppID != "" || c.WeChat.MP.AppID != "" {
			bad("wechat.fake", "the stand-in WeChat brings its own demo accounts: leave wechat.oa.app_id and wechat.mp.app_id empty", "fake: true, with no app ids")
		}
	}
	if k := c.WeChat.OA.EncodingAESKey; k != "" && len(k) != 43 {
		bad("wechat.oa.encoding_aes_key", fmt.Sprintf("is %d characters, WeChat's key has 43", len(k)), "the 43-character key from the WeChat admin page")
	}
	switch oa := c.WeChat.OA; oa.Mode {
	case "", ModePlain, ModeCompatible, ModeSafe:
		if oa.Mode == ModePlain && oa.EncodingAESKey != "" {
			bad("wechat.oa.mode", "is plain while wechat.oa.encoding_aes_key is set: plain messages would be accepted although a key is configured",
				"safe (安全模式; compatible while switching over), or remove the key")
		}
		if (oa.Mode == ModeCompatible || oa.Mode == ModeSafe) && oa.EncodingAESKey == "" {
			bad("wechat.oa.mode", fmt.Sprintf("is %s, which needs wechat.oa.encoding_aes_key", oa.Mode), "the 43-character EncodingAESKey from 服务器配置")
		}
	default:
		bad("wechat.oa.mode", fmt.Sprintf("%q is not a message encryption mode; want plain (明文), compatible (兼容) or safe (安全)", oa.Mode), "safe")
	}
	if c.WeChat.MP.Mode != "" {
		bad("wechat.mp.mode", "is set, but only the official account has a message mode", "remove it; set wechat.oa.mode instead")
	}
	if c.Notify.RatePerSecond <= 0 {
		bad("notify.rate_per_second", "must be positive", "200")
	}
	for key, v := range map[string]string{"notify.quiet_start": c.Notify.QuietStart, "notify.quiet_end": c.Notify.QuietEnd} {
		if v == "" {
			continue
		}
		if _, err := time.Parse("15:04", v); err != nil {
			bad(key, fmt.Sprintf("%q is not a time of day", v), "22:00")
		}
	}
	if p := c.Notify.SMS.Provider; p != "log" && p != "http" {
		bad("notify.sms.provider", fmt.Sprintf("%q is neither log nor http", p), "http")
	} else if p == "http" && !strings.HasPrefix(c.Notify.SMS.URL, "http") {
		bad("notify.sms.url", "must be set for the http provider", "https://sms.example.internal/send")
	}
	seenDays := map[string]int{}
	for i, d := range c.Calendar.ExtraDays {
		key := fmt.Sprintf("calendar.extra_days[%d]", i)
		t, err := time.Parse("2006-01-02", d.Date)
		switch {
		case err != nil:
			bad(key+".date", fmt.Sprintf("%q is not a date", d.Date), "2027-10-01")
			continue
		case strings.TrimSpace(d.Name) == "":
			bad(key+".name", "is empty: give the holiday's name", "国庆节")
		case d.Work && t.Weekday() != time.Saturday && t.Weekday() != time.Sunday:
			bad(key+".work", fmt.Sprintf("%s is a %s: a make-up working day falls on a weekend", d.Date, t.Weekday()), "work: false")
		}
		if j, dup := seenDays[d.Date]; dup {
			bad(key+".date", fmt.Sprintf("%s is given twice (also calendar.extra_days[%d])", d.Date, j), "one entry per date")
		}
		seenDays[d.Date] = i
	}
	switch c.Binding.Proof {
	case "wechat_phone":
		if c.WeChat.MP.AppID == "" {
			bad("binding.proof", "wechat_phone needs the mini-program (wechat.mp.app_id) to ask WeChat for the verified phone", "sms")
		}
	case "sms":
	case "none":
		if c.Env == "prod" {
			bad("binding.proof", "none is refused in prod: the roster facts are printed in every roster and bank file, so anyone could bind anyone", "wechat_phone")
		}
	default:
		bad("binding.proof", fmt.Sprintf("%q is not wechat_phone, sms or none", c.Binding.Proof), "wechat_phone")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", fmt.Sprintf("%q is not a level", c.Log.Level), "info")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", fmt.Sprintf("%q is neither json nor text", c.Log.Format), "json")
	}
	return errors.Join(errs...)
}

// String prints the configuration as YAML with every secret replaced by "***".
func (c Config) String() string {
	cp := c
	maskSecrets(reflect.ValueOf(&cp).Elem())
	b, _ := yaml.Marshal(cp)
	return string(b)
}

func maskSecrets(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			maskSecrets(fv)
			continue
		}
		if t.Field(i).Tag.Get("secret") == "true" && fv.Kind() == reflect.String && fv.String() != "" {
			fv.SetString("***")
		}
	}
}

// loopback reports whether host names this machine (localhost, 127.0.0.0/8, ::1): a link to it
// works on the server only, never on a worker's phone.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
