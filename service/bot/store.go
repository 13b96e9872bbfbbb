package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"huzhu/model"
)

// The bot reads the worker's own data and writes only the follow state of WeChatAccount rows;
// binding (MemberID) belongs to the mini-program side.

// account is what the bot needs of a WeChat account.
type account struct {
	ID       uint64
	MemberID uint64 // 0: not bound
}

// accountByOpenID returns the account of an official-account openid; found is false when there
// is none.
func accountByOpenID(ctx context.Context, db *gorm.DB, openID string) (account, bool, error) {
	var a model.WeChatAccount
	err := db.WithContext(ctx).Select("id", "member_id").Where("oa_open_id = ?", openID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return account{}, false, nil
	}
	if err != nil {
		return account{}, false, fmt.Errorf("load wechat account: %w", err)
	}
	out := account{ID: a.ID}
	if a.MemberID != nil {
		out.MemberID = *a.MemberID
	}
	return out, true, nil
}

// follow marks the openid as following. The row is found by OAOpenID, else by UnionID (a
// mini-program account of the same person, which gets the openid), else created. A UnionID is
// recorded only on a row that has none and when no other row holds it.
func follow(ctx context.Context, db *gorm.DB, openID, unionID string, at time.Time) (uint64, error) {
	var id uint64
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a model.WeChatAccount
		err := tx.Where("oa_open_id = ?", openID).Take(&a).Error
		if errors.Is(err, gorm.ErrRecordNotFound) && unionID != "" {
			err = tx.Where("union_id = ? AND oa_open_id IS NULL", unionID).Take(&a).Error
		}
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			a = model.WeChatAccount{OAOpenID: &openID, Following: true, FollowedAt: &at}
			if unionID != "" && !unionTaken(tx, unionID) {
				a.UnionID = &unionID
			}
			if err := tx.Create(&a).Error; err != nil {
				return fmt.Errorf("create wechat account: %w", err)
			}
			id = a.ID
			return nil
		case err != nil:
			return fmt.Errorf("load wechat account: %w", err)
		}
		set := map[string]any{"oa_open_id": openID, "following": true, "followed_at": at, "unfollowed_at": nil}
		if a.UnionID == nil && unionID != "" && !unionTaken(tx, unionID) {
			set["union_id"] = unionID
		}
		if err := tx.Model(&model.WeChatAccount{}).Where("id = ?", a.ID).Updates(set).Error; err != nil {
			return fmt.Errorf("mark wechat account %d following: %w", a.ID, err)
		}
		id = a.ID
		return nil
	})
	return id, err
}

func unionTaken(tx *gorm.DB, unionID string) bool {
	var n int64
	tx.Model(&model.WeChatAccount{}).Where("union_id = ?", unionID).Count(&n)
	return n > 0
}

// unfollow marks the openid as no longer following, which stops template notices; found is
// false when the openid is unknown (nothing to mark).
func unfollow(ctx context.Context, db *gorm.DB, openID string, at time.Time) (id uint64, found bool, err error) {
	a, found, err := accountByOpenID(ctx, db, openID)
	if err != nil || !found {
		return 0, false, err
	}
	err = db.WithContext(ctx).Model(&model.WeChatAccount{}).Where("id = ?", a.ID).
		Updates(map[string]any{"following": false, "unfollowed_at": at}).Error
	if err != nil {
		return a.ID, true, fmt.Errorf("mark wechat account %d unfollowed: %w", a.ID, err)
	}
	return a.ID, true, nil
}

// transferRow is one transfer with the run it pays.
type transferRow struct {
	ID           uint64
	AmountFen    model.Fen
	Status       model.LineStatus
	AccountKind  string
	AccountLast4 string
	Bank         model.Bank
	ArrivedAt    *time.Time
	Period       string
	Class        model.SettlementClass
}

// recentTransfers returns the member's latest transfers, newest first.
func recentTransfers(ctx context.Context, db *gorm.DB, memberID uint64, limit int) ([]transferRow, error) {
	var out []transferRow
	err := db.WithContext(ctx).Table("transfers AS t").
		Select("t.id, t.amount_fen, t.status, t.account_kind, t.account_last4, t.bank, t.arrived_at, r.period, r.class").
		Joins("JOIN settlement_runs AS r ON r.id = t.run_id").
		Where("t.member_id = ?", memberID).Order("t.id DESC").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load transfers of member %d: %w", memberID, err)
	}
	return out, nil
}

// waitingRun is the member's approved money of one run not yet in a transfer.
type waitingRun struct {
	Period string
	Class  model.SettlementClass
	N      int64
	Sum    model.Fen
}

// waitingLines returns, per run, the member's approved eligible lines that no transfer carries
// yet (the run is approved but its transfer file not exported).
func waitingLines(ctx context.Context, db *gorm.DB, memberID uint64) ([]waitingRun, error) {
	var out []waitingRun
	err := db.WithContext(ctx).Table("payout_lines AS l").
		Select("r.period, r.class, COUNT(*) AS n, COALESCE(SUM(l.amount_fen), 0) AS sum").
		Joins("JOIN settlement_runs AS r ON r.id = l.run_id").
		Where("l.member_id = ? AND l.status = ? AND l.eligible = ? AND l.transfer_id = 0", memberID, model.LineApproved, true).
		Group("r.period, r.class").Order("r.period").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load waiting lines of member %d: %w", memberID, err)
	}
	return out, nil
}

// Bounds of a stored unsure question.
const (
	unsureKeyRunes  = 120
	unsureTextRunes = 200
)

var reLongDigits = regexp.MustCompile(`[0-9０-９]{6,}[xX]?`)

// maskNumbers replaces runs of six or more digits (ID, card and phone numbers; an ID number's
// final X with them) by "***".
func maskNumbers(s string) string { return reLongDigits.ReplaceAllString(s, "***") }

// noteUnsure counts a question the bot was not sure of (band suggest or decline, best the
// closest entry) in bot_questions: masked, one row per normalised text. Texts of fewer than two
// letters or digits are not kept.
func noteUnsure(ctx context.Context, db *gorm.DB, text, best string, band Band, at time.Time) error {
	masked := maskNumbers(strings.TrimSpace(text))
	key := []rune(compact(masked))
	if len(key) < 2 {
		return nil
	}
	if len(key) > unsureKeyRunes {
		key = key[:unsureKeyRunes]
	}
	if r := []rune(masked); len(r) > unsureTextRunes {
		masked = string(r[:unsureTextRunes]) + "…"
	}
	q := model.BotQuestion{Key: string(key), Text: masked, Best: best, Band: band.String(), Count: 1, FirstSeen: at, LastSeen: at}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}},
		DoUpdates: clause.Assignments(map[string]any{"count": gorm.Expr("count + 1"), "last_seen": at})}).Create(&q).Error
	if err != nil {
		return fmt.Errorf("note unsure question: %w", err)
	}
	return nil
}
