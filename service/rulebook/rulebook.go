package rulebook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/policy"
)

// Shipped are the files the binary carries: config.PolicyYAML and config.FAQYAML.
type Shipped struct {
	Policy []byte
	FAQ    []byte
}

// Service saves staff's changes of the rules and swaps them into the process's shared Engine and
// KB. It is safe for concurrent use; saves take turns.
type Service struct {
	db      *gorm.DB
	engine  *policy.Engine
	kb      *bot.KB
	shipped Shipped
	now     func() time.Time
	log     *slog.Logger
	mu      sync.Mutex // one save at a time: each builds on the content the previous one swapped in
	seen    string     // savedPrint of what Refresh last swapped in
}

// New returns the service over the database, the process's shared engine and knowledge base (as
// LoadEngine and LoadKB built them) and the shipped files. now and log may be nil.
func New(db *gorm.DB, engine *policy.Engine, kb *bot.KB, shipped Shipped, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, engine: engine, kb: kb, shipped: shipped, now: now, log: log}
}

// Engine returns the shared policy engine.
func (s *Service) Engine() *policy.Engine { return s.engine }

// KB returns the shared knowledge base.
func (s *Service) KB() *bot.KB { return s.kb }

// LoadVersions returns the policy versions in force: the shipped file's, with the versions staff
// saved in the database (a saved version replaces the shipped one of the same code), in file
// order then saved order. A saved version that does not read is an error naming it.
func LoadVersions(ctx context.Context, db *gorm.DB, shipped []byte) ([]policy.Version, error) {
	versions, err := policy.ParseYAML(shipped)
	if err != nil {
		return nil, fmt.Errorf("shipped policy file: %w", err)
	}
	var rows []model.PolicyVersion
	if err := db.WithContext(ctx).Order("effective_from, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load policy versions: %w", err)
	}
	byCode := map[string]int{}
	for i, v := range versions {
		byCode[v.Code] = i
	}
	for _, r := range rows {
		v, err := policy.ParseVersion([]byte(r.Body))
		if err != nil {
			return nil, fmt.Errorf("policy version %s saved by %s: %w", r.Code, r.CreatedBy, err)
		}
		if i, ok := byCode[v.Code]; ok {
			versions[i] = v
			continue
		}
		byCode[v.Code] = len(versions)
		versions = append(versions, v)
	}
	return versions, nil
}

// LoadEngine builds the engine of the versions LoadVersions returns. A bad set is an error, so a
// process stops at start instead of paying wrongly.
func LoadEngine(ctx context.Context, db *gorm.DB, shipped []byte) (*policy.Engine, error) {
	versions, err := LoadVersions(ctx, db, shipped)
	if err != nil {
		return nil, err
	}
	engine, err := policy.New(versions)
	if err != nil {
		return nil, fmt.Errorf("policy versions: %w", err)
	}
	return engine, nil
}

// LoadKB builds the knowledge base: the shipped file with staff's saved entries laid over it,
// under versions (policy.Engine.Versions), with the links and thresholds of this process (see
// bot.Source.Build).
func LoadKB(ctx context.Context, db *gorm.DB, shipped []byte, versions []policy.Version, links bot.Links, th bot.Thresholds) (*bot.KB, error) {
	st, err := loadFAQ(ctx, db, shipped)
	if err != nil {
		return nil, err
	}
	kb, err := st.merged.Build(versions, links, th)
	if err != nil {
		return nil, fmt.Errorf("knowledge base with the entries staff saved (table faq_entries; `huzhu faq edits` lists them, `huzhu faq revert <id>` drops one): %w", err)
	}
	return kb, nil
}

// today is the date in Asia/Shanghai.
func (s *Service) today() model.Date { return model.DateOf(s.now()) }

func need(st model.Actor, act model.Action) error {
	if st.Can(act) {
		return nil
	}
	return errs.New(errs.KindForbidden, "rulebook.forbidden", "只有市总管理员可以修改政策和问答").WithFix("如需修改，请联系市总管理员")
}

// Refresh reads the saved versions and entries afresh and, when they differ from what this
// service last read, swaps them into the engine and knowledge base: how a process picks up a
// change saved by another process. A saved row that no longer fits is logged and the running
// content kept. It reports whether it swapped.
func (s *Service) Refresh(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, err := savedPrint(ctx, s.db)
	if err != nil {
		return false, err
	}
	if fp == s.seen {
		return false, nil
	}
	engine, err := LoadEngine(ctx, s.db, s.shipped.Policy)
	if err != nil {
		return false, err
	}
	faq, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return false, err
	}
	kb, err := s.kb.Rebuild(faq.merged, engine.Versions())
	if err != nil {
		return false, fmt.Errorf("knowledge base with the saved entries: %w", err)
	}
	s.engine.Swap(engine)
	s.kb.Swap(kb)
	s.seen = fp
	return true, nil
}

// Watch calls Refresh every interval until ctx ends, logging failures: `huzhu serve` runs it so
// that instances behind one load balancer follow each other's changes within a minute.
func (s *Service) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if changed, err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("rulebook: refresh from the database", "err", err)
		} else if changed {
			s.log.Debug("rulebook: reloaded the saved versions and entries")
		}
	}
}

// savedPrint is a fingerprint of every saved version and entry.
func savedPrint(ctx context.Context, db *gorm.DB) (string, error) {
	h := sha256.New()
	var vs []model.PolicyVersion
	if err := db.WithContext(ctx).Select("code", "body").Order("id").Find(&vs).Error; err != nil {
		return "", fmt.Errorf("read policy versions: %w", err)
	}
	for _, v := range vs {
		fmt.Fprintf(h, "v%d:%s%d:%s", len(v.Code), v.Code, len(v.Body), v.Body)
	}
	var es []model.FAQEntry
	if err := db.WithContext(ctx).Select("key", "body").Order("id").Find(&es).Error; err != nil {
		return "", fmt.Errorf("read FAQ entries: %w", err)
	}
	for _, e := range es {
		fmt.Fprintf(h, "e%d:%s%d:%s", len(e.Key), e.Key, len(e.Body), e.Body)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
