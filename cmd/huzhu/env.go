package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/kv"
	"huzhu/service/member"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/store"
	"huzhu/service/wechat"
	"huzhu/service/wechat/fakewechat"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env is what every subcommand shares: the configuration and the stores, opened on first use
// and closed by close.
type env struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	configPath string
	// overrides are flags that stand for a configuration key: they win over the file and the
	// environment (serve --addr is HUZHU_HTTP_ADDR; --demo sets HUZHU_ENV=dev).
	overrides map[string]string
	// as and breakGlass name who a state-changing subcommand acts as (--as, --break-glass).
	as, breakGlass string
	cfg            config.Config
	log            *slog.Logger

	db     *gorm.DB
	redis  redis.UniversalClient
	kv     kv.Store
	cipher *pii.Cipher
	engine *policy.Engine
	cal    *calendar.Calendar // built once from the library and calendar.extra_days
	wx     *wechat.Client
	// fakeWX is the stand-in WeChat server of wechat.fake (serve only; nil elsewhere).
	fakeWX *fakewechat.Fake
	// members is the mini-program API's member service of this process (set by serve before it
	// mounts the console; nil elsewhere): the console binds ("为职工绑定") and unbinds through it.
	members *member.Service
	// claims is the supplementary-claim service of this process, shared by the API and the
	// console (set by serve before it mounts the console; nil elsewhere).
	claims *claim.Service
}

// override makes key read as v, whatever the file and the environment say.
func (e *env) override(key, v string) {
	if e.overrides == nil {
		e.overrides = map[string]string{}
	}
	e.overrides[key] = v
}

// load reads the configuration and sets up logging; called once before any subcommand runs.
func (e *env) load() error {
	path := e.configPath
	if path == "" {
		path = e.getenv("HUZHU_CONFIG")
	}
	getenv := func(k string) string {
		if v, ok := e.overrides[k]; ok {
			return v
		}
		return e.getenv(k)
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return err
	}
	if cfg.Env == "dev" {
		if err := e.devSecrets(&cfg); err != nil {
			return err
		}
	}
	e.cfg = cfg
	extra := make([]calendar.Day, len(cfg.Calendar.ExtraDays))
	for i, d := range cfg.Calendar.ExtraDays {
		extra[i] = calendar.Day{Date: d.Date, Work: d.Work, Name: d.Name}
	}
	if e.cal, err = calendar.NewWithDays(model.Shanghai, extra); err != nil {
		return fmt.Errorf("calendar.extra_days: %w", err)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		e.log = slog.New(slog.NewTextHandler(e.stderr, hopts))
	} else {
		e.log = slog.New(slog.NewJSONHandler(e.stderr, hopts))
	}
	return nil
}

// devSecrets fills missing keys in dev from a generated file, so that the embedded demo runs on a
// bare machine and a restart can still decrypt what the last run wrote. Prod never gets here.
func (e *env) devSecrets(cfg *config.Config) error {
	if cfg.Security.PIIKey != "" && cfg.Security.SessionSecret != "" {
		return nil
	}
	path := cfg.Security.DevKeyFile
	var keys struct {
		PIIKey        string `yaml:"pii_key"`
		SessionSecret string `yaml:"session_secret"`
	}
	if b, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(b, &keys); err != nil {
			return fmt.Errorf("dev key file %s: %w (delete it to start afresh)", path, err)
		}
	}
	if keys.PIIKey == "" || keys.SessionSecret == "" {
		keys.PIIKey, keys.SessionSecret = randomKey(), randomKey()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("dev key file: %w", err)
		}
		b, _ := yaml.Marshal(keys)
		if err := os.WriteFile(path, append([]byte("# Generated development keys. Never use in production.\n"), b...), 0o600); err != nil {
			return fmt.Errorf("dev key file: %w", err)
		}
	}
	if cfg.Security.PIIKey == "" {
		cfg.Security.PIIKey = keys.PIIKey
	}
	if cfg.Security.SessionSecret == "" {
		cfg.Security.SessionSecret = keys.SessionSecret
	}
	return nil
}

func randomKey() string {
	b := make([]byte, 36)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openDB opens (once) and migrates the database.
func (e *env) openDB(ctx context.Context) (*gorm.DB, error) {
	if e.db != nil {
		return e.db, nil
	}
	db, err := store.Open(ctx, store.Options{MySQLDSN: e.cfg.Database.MySQLDSN, SQLitePath: e.cfg.Database.SQLitePath,
		MaxOpenConns: e.cfg.Database.MaxOpenConns, Migrate: true, Log: e.log})
	if err != nil {
		return nil, err
	}
	e.db = db
	return db, nil
}

// openKV returns Redis when configured, the in-process store otherwise.
func (e *env) openKV(ctx context.Context) (kv.Store, error) {
	if e.kv != nil {
		return e.kv, nil
	}
	if e.cfg.Redis.Addr == "" {
		e.kv = kv.NewMemory(nil)
		return e.kv, nil
	}
	// While Redis is down a request should get its 503 quickly: go-redis's defaults (3 command
	// retries, each dialling 5 times 100 ms apart) kept every request waiting 0.5–1 s first.
	c := redis.NewClient(&redis.Options{Addr: e.cfg.Redis.Addr, Password: e.cfg.Redis.Password, DB: e.cfg.Redis.DB,
		MaxRetries: 1, DialTimeout: 2 * time.Second, DialerRetries: 2, DialerRetryTimeout: 50 * time.Millisecond})
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w (is it running? redis.addr)", e.cfg.Redis.Addr, err)
	}
	e.redis = c
	e.kv = kv.NewRedis(c, e.cfg.Redis.Prefix)
	return e.kv, nil
}

// piiCipher returns the cipher for personal numbers.
func (e *env) piiCipher() (*pii.Cipher, error) {
	if e.cipher != nil {
		return e.cipher, nil
	}
	c, err := pii.New([]byte(e.cfg.Security.PIIKey))
	if err != nil {
		return nil, fmt.Errorf("security.pii_key: %w", err)
	}
	e.cipher = c
	return c, nil
}

func (e *env) close() {
	if e.db != nil {
		_ = store.Close(e.db)
	}
	if e.redis != nil {
		_ = e.redis.Close()
	}
}

// osUser is the operating-system user running the command, as the audit log names it.
func (e *env) osUser() string {
	if u := strings.TrimSpace(e.getenv("USER")); u != "" {
		return u
	}
	return "unknown"
}

// staffActor is the person a state-changing subcommand acts as: the staff account of --as, with
// its role and union, so the command line is refused what the console would refuse that person;
// or, with --break-glass REASON, the operating-system user acting as an admin, audited as such.
func (e *env) staffActor(cmd *cobra.Command) (model.Actor, error) {
	s, err := e.staffService(cmd.Context())
	if err != nil {
		return model.Actor{}, err
	}
	switch {
	case e.as != "" && e.breakGlass != "":
		return model.Actor{}, errors.New("give --as USERNAME or --break-glass REASON, not both")
	case e.breakGlass != "":
		return s.BreakGlass(cmd.Context(), e.osUser(), e.breakGlass, cmd.CommandPath())
	case e.as == "":
		return model.Actor{}, fmt.Errorf("%s changes data: name who you act as with --as USERNAME (your console account; the console's rules apply)", cmd.CommandPath())
	}
	return s.ActorOf(cmd.Context(), e.as, model.ViaCLI)
}
