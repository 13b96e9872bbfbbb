package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/handler/api"
	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/demo"
	"huzhu/service/member"
	"huzhu/service/payment"
	"huzhu/service/payout"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/rulebook"
	"huzhu/service/session"
	"huzhu/service/settlement"
	"huzhu/service/staff"
	"huzhu/service/stats"
)

// policyEngine returns (once) the policy versions in force: the shipped config/policy.yaml, with
// the versions staff saved in the console (rulebook.LoadEngine, the one way of loading them). A
// bad version is an error naming it, so the process stops at start instead of paying wrongly.
// Every service of the process shares this engine, so a version added in the console reaches all
// of them.
func (e *env) policyEngine(ctx context.Context) (*policy.Engine, error) {
	if e.engine != nil {
		return e.engine, nil
	}
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	engine, err := rulebook.LoadEngine(ctx, db, config.PolicyYAML)
	if err != nil {
		return nil, err
	}
	e.engine = engine
	return engine, nil
}

// rulebook builds the knowledge base of the bot (the shipped config/faq.yaml with the entries
// staff saved) under the process's policy engine, and the console's editor of both. inWeChat
// selects the answers' links (see botLinks). Call it once per process: the console and the bot
// must share the one knowledge base it builds, so that an edit reaches both.
func (e *env) rulebook(ctx context.Context, inWeChat bool) (*rulebook.Service, error) {
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	engine, err := e.policyEngine(ctx)
	if err != nil {
		return nil, err
	}
	kb, err := rulebook.LoadKB(ctx, db, config.FAQYAML, engine.Versions(), e.botLinks(inWeChat), bot.Thresholds{})
	if err != nil {
		return nil, err
	}
	return rulebook.New(db, engine, kb, rulebook.Shipped{Policy: config.PolicyYAML, FAQ: config.FAQYAML}, time.Now, e.log), nil
}

// settlementService builds the settlement service over the configured stores.
func (e *env) settlementService(ctx context.Context) (*settlement.Service, *calendar.Calendar, error) {
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return nil, nil, err
	}
	engine, err := e.policyEngine(ctx)
	if err != nil {
		return nil, nil, err
	}
	cal := e.cal
	return settlement.New(db, engine, cal, kvs, settlement.Options{}, time.Now, e.log), cal, nil
}

// seedDemo fills an empty database with the synthetic demo and says what it did. The console
// accounts it creates are returned as lines to print last, where they do not scroll away, and
// the settlement's per-run log lines are held back: the demo's own summary says what happened.
func (e *env) seedDemo(ctx context.Context) (accounts string, err error) {
	return e.seedDemoAsOf(ctx, time.Now())
}

// seedDemoAsOf is seedDemo written as it would have been at asOf (huzhu demo --as-of).
func (e *env) seedDemoAsOf(ctx context.Context, asOf time.Time) (accounts string, err error) {
	loud := e.log
	e.log = slog.New(minLevel{loud.Handler(), slog.LevelWarn})
	defer func() { e.log = loud }()
	db, err := e.openDB(ctx)
	if err != nil {
		return "", err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return "", err
	}
	settle, cal, err := e.settlementService(ctx)
	if err != nil {
		return "", err
	}
	start := time.Now()
	pay := payment.New(db, cipher, cal, time.Now, e.log)
	sum, err := demo.New(db, cipher, settle, pay, cal, e.log).Seed(ctx, asOf, demo.Options{})
	if err != nil {
		return "", err
	}
	if sum.Skipped {
		fmt.Fprintln(e.stdout, "demo: the database already has data; left as it is (delete ./data to start afresh)")
		return "", nil
	}
	fmt.Fprintf(e.stdout, "demo: %d unions, %d members, %d 医保 records, %d settlement runs written in %.1fs (all synthetic)\n",
		sum.Unions, sum.Members, sum.Records, len(sum.Runs), time.Since(start).Seconds())
	return e.demoStaff(ctx)
}

// demoStaff creates one console account per role with a fresh random password and returns them
// as lines to print: the demo is for trying the console too. Only the demo does this;
// production accounts come from `huzhu admin create-user`.
func (e *env) demoStaff(ctx context.Context) (string, error) {
	accounts, err := e.staffService(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("demo: console accounts for /admin (passwords shown once):\n")
	for _, u := range []staff.NewUser{
		{Username: "demo-admin", DisplayName: "演示账号", Role: model.RoleAdmin},
		{Username: "demo-operator", DisplayName: "演示账号", Role: model.RoleOperator},
		{Username: "demo-union", DisplayName: "演示账号", Role: model.RoleUnion, UnionCode: "DEMO001"},
		{Username: "demo-auditor", DisplayName: "演示账号", Role: model.RoleAuditor},
	} {
		u.Password = staff.NewToken()[:16]
		if _, err := accounts.CreateAccount(ctx, model.Actor{Username: demo.Actor, Via: model.ViaSystem}, u); err != nil {
			return "", fmt.Errorf("demo staff %s: %w", u.Username, err)
		}
		fmt.Fprintf(&b, "  %-14s %s  (%s)\n", u.Username, u.Password, u.Role.Label())
	}
	return b.String(), nil
}

// followers links official-account followers to workers through WeChat's user information;
// nil without an official account (wechat.oa.app_id).
func (e *env) followers(ctx context.Context) (*member.Followers, error) {
	if e.cfg.WeChat.OA.AppID == "" {
		return nil, nil
	}
	wx, err := e.wechatClient(ctx)
	if err != nil {
		return nil, err
	}
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return nil, err
	}
	return member.NewFollowers(db, wx, kvs, time.Now, e.log), nil
}

// resetDemoStaff gives the demo's console accounts (demo-*) new passwords and returns them as
// lines to print, for a newcomer whose first passwords are gone. Nothing else changes.
func (e *env) resetDemoStaff(ctx context.Context) (string, error) {
	accounts, err := e.staffService(ctx)
	if err != nil {
		return "", err
	}
	sys := model.Actor{Username: demo.Actor, Via: model.ViaSystem}
	list, err := accounts.Accounts(ctx, sys)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("demo: new passwords for the console accounts of the demo (shown once):\n")
	n := 0
	for _, a := range list {
		if !strings.HasPrefix(a.Username, "demo-") {
			continue
		}
		pw := staff.NewToken()[:16]
		if err := accounts.ResetPassword(ctx, sys, a.ID, pw); err != nil {
			return "", fmt.Errorf("reset demo account %s: %w", a.Username, err)
		}
		fmt.Fprintf(&b, "  %-14s %s  (%s)\n", a.Username, pw, a.Role.Label())
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("this database has no demo accounts: run huzhu serve --demo on an empty one first")
	}
	return b.String(), nil
}

// mount adds the routes of every front: the JSON API, the staff console and the official
// account's callback.
func (e *env) mount(ctx context.Context, app *fiber.App, _ *prometheus.Registry) error {
	db, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return err
	}
	engine, err := e.policyEngine(ctx)
	if err != nil {
		return err
	}
	sessions, err := session.New([]byte(e.cfg.Security.SessionSecret), session.Options{}, time.Now)
	if err != nil {
		return fmt.Errorf("security.session_secret: %w", err)
	}
	wx, err := e.wechatClient(ctx)
	if err != nil {
		return err
	}
	var login member.WeChat // stays a nil interface without a mini-program, so Login answers Unavailable
	if wx != nil && e.cfg.WeChat.MP.AppID != "" {
		login = wx
	}
	var templates []string
	for _, t := range []string{e.cfg.WeChat.Templates.MPArrived, e.cfg.WeChat.Templates.MPApproved, e.cfg.WeChat.Templates.MPFailed} {
		if t != "" && !slices.Contains(templates, t) {
			templates = append(templates, t)
		}
	}
	proof, err := member.ParseProof(e.cfg.Binding.Proof)
	if err != nil {
		return fmt.Errorf("binding.proof: %w", err)
	}
	members := member.New(db, cipher, sessions, login, kvs, e.smsSender(), member.Options{Templates: templates, Proof: proof}, time.Now, e.log)
	e.members = members // the console binds and unbinds through it too, so its binding cache hears at once
	payouts := payout.New(db, engine, e.cal, payout.Options{}, time.Now)
	claims, err := e.claimService(db, cipher, payouts)
	if err != nil {
		return err
	}
	e.claims = claims
	go e.purgeClaims(ctx, claims, time.Hour)
	api.New(stats.New(db, kvs, time.Minute, time.Now), members, payouts).WithClaims(claims).Mount(app)
	rules, err := e.rulebook(ctx, true)
	if err != nil {
		return err
	}
	// Follow the changes other instances save; it only reads, and stops with the server.
	go rules.Watch(ctx, time.Minute)
	if err := e.mountConsole(ctx, app, rules); err != nil {
		return err
	}
	return e.mountBotWith(ctx, app, rules.KB())
}

// claimService builds the supplementary-claim service over the configured document store: S3 when
// claims.s3.endpoint is set, the sealed directory otherwise.
func (e *env) claimService(db *gorm.DB, cipher *pii.Cipher, payouts *payout.Service) (*claim.Service, error) {
	c := e.cfg.Claims
	var store blob.Store
	if c.S3.Endpoint != "" {
		s3, err := blob.NewS3(blob.S3Options{Endpoint: c.S3.Endpoint, Bucket: c.S3.Bucket, Prefix: c.S3.Prefix, Region: c.S3.Region,
			AccessKey: c.S3.AccessKey, SecretKey: c.S3.SecretKey})
		if err != nil {
			return nil, fmt.Errorf("claims.s3: %w", err)
		}
		store = s3
	} else {
		d, err := blob.NewDir(c.DocumentDir)
		if err != nil {
			return nil, fmt.Errorf("claims.document_dir: %w", err)
		}
		store = d
	}
	return claim.New(db, cipher, store, payouts, claim.Options{MaxDocBytes: int64(c.MaxDocMB) << 20,
		KeepDocs: time.Duration(c.KeepDays) * 24 * time.Hour}, time.Now, e.log), nil
}

// purgeClaims deletes the documents of ended claims every interval until ctx ends. Every
// instance may run it: deleting twice is harmless.
func (e *env) purgeClaims(ctx context.Context, claims *claim.Service, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := claims.Purge(ctx, 100); err != nil {
			e.log.Warn("claim documents: purge failed", "err", err)
		} else if n > 0 {
			e.log.Info("claim documents purged", "documents", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// minLevel passes on records at or above min only.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
