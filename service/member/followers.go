package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/kv"
	"huzhu/service/progress"
	"huzhu/service/wechat"
)

// FollowerSource is what the follower links need of WeChat's user management;
// *wechat.Client satisfies it.
type FollowerSource interface {
	UserInfo(ctx context.Context, openID string) (wechat.Follower, error)
	UserInfoBatch(ctx context.Context, openIDs []string) ([]wechat.Follower, error)
	Followers(ctx context.Context, next string) (wechat.FollowerPage, error)
}

// Followers links official-account followers to the WeChat accounts (and so the bound members)
// of the mini-program. WeChat's subscribe push carries only the official-account openid; the
// unionid shared with the mini-program comes from user/info, and only when both apps are bound
// to one WeChat Open Platform account. Without it a follower stays an unlinked row and template
// messages cannot reach the worker.
type Followers struct {
	db  *gorm.DB
	wx  FollowerSource
	kv  kv.Store
	now func() time.Time
	log *slog.Logger
	// LookupEvery bounds user/info calls for one openid seen without a unionid [24h].
	LookupEvery time.Duration
}

// NewFollowers returns the follower links over db and WeChat. kv remembers recent lookups and
// the backfill's cursor (Redis in production). now and log may be nil.
func NewFollowers(db *gorm.DB, wx FollowerSource, kvs kv.Store, now func() time.Time, log *slog.Logger) *Followers {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Followers{db: db, wx: wx, kv: kvs, now: now, log: log, LookupEvery: 24 * time.Hour}
}

// Subscribed handles a subscribe push: it asks WeChat for the follower's unionid and links the
// openid to the account holding that unionid (merging a separate official-account row into it),
// marked following. Errors are WeChat's or the database's; the caller logs them and the link is
// made later by Seen or Backfill.
func (f *Followers) Subscribed(ctx context.Context, openID string) error {
	fo, err := f.wx.UserInfo(ctx, openID)
	if err != nil {
		return fmt.Errorf("follower %s: user info: %w", mask(openID), err)
	}
	fo.OpenID = openID
	if err := f.link(ctx, fo); err != nil {
		return fmt.Errorf("follower %s: %w", mask(openID), err)
	}
	return nil
}

// Seen handles any other message from openID: when no account holds the openid with a unionid,
// it looks the follower up as Subscribed does, at most once per LookupEvery per openid (an
// account not bound to an Open Platform account never gets a unionid, and user/info has a daily
// quota).
func (f *Followers) Seen(ctx context.Context, openID string) error {
	var n int64
	if err := f.db.WithContext(ctx).Model(&model.WeChatAccount{}).
		Where("oa_open_id = ? AND union_id IS NOT NULL", openID).Count(&n).Error; err != nil {
		return fmt.Errorf("follower %s: %w", mask(openID), err)
	}
	if n > 0 {
		return nil
	}
	ok, err := f.kv.SetNX(ctx, "follower:lookup:"+openID, []byte("1"), f.LookupEvery)
	if err != nil || !ok {
		return err
	}
	if err := f.Subscribed(ctx, openID); err != nil {
		_ = f.kv.Del(ctx, "follower:lookup:"+openID) // let the next message try again
		return err
	}
	return nil
}

// link records what WeChat said about one follower in one transaction:
//   - the row of the openid and the row of the unionid are the same person: when they are two
//     rows (the worker followed before the unionid was known, and logged in to the mini-program),
//     the official-account row is merged into the unionid's row, keeping its binding; two rows
//     bound to different members are left apart and logged for staff;
//   - only the unionid's row exists: it gets the openid;
//   - only the openid's row: it gets the unionid (when it has none and nobody else holds it);
//   - neither: a new row.
//
// Following follows fo.Subscribed.
func (f *Followers) link(ctx context.Context, fo wechat.Follower) error {
	now := f.now()
	return f.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var byOA, byUnion model.WeChatAccount
		hasOA, err := takeAccount(tx, "oa_open_id = ?", fo.OpenID, &byOA)
		if err != nil {
			return err
		}
		hasUnion := false
		if fo.UnionID != "" {
			if hasUnion, err = takeAccount(tx, "union_id = ?", fo.UnionID, &byUnion); err != nil {
				return err
			}
		}
		follow := map[string]any{"following": fo.Subscribed}
		if fo.Subscribed {
			follow["unfollowed_at"] = nil
			if !byOA.Following || byOA.FollowedAt == nil {
				follow["followed_at"] = now
			}
		} else {
			follow["unfollowed_at"] = now
		}
		switch {
		case hasOA && hasUnion && byOA.ID == byUnion.ID:
			return tx.Model(&model.WeChatAccount{}).Where("id = ?", byOA.ID).Updates(follow).Error
		case hasOA && hasUnion:
			if byOA.MemberID != nil && byUnion.MemberID != nil && *byOA.MemberID != *byUnion.MemberID ||
				byUnion.OAOpenID != nil && *byUnion.OAOpenID != fo.OpenID || byOA.MPOpenID != nil || byOA.UnionID != nil {
				f.log.Warn("wechat accounts share a unionid but cannot be merged", "account_id", byUnion.ID, "other_account_id", byOA.ID)
				return tx.Model(&model.WeChatAccount{}).Where("id = ?", byOA.ID).Updates(follow).Error
			}
			if err := tx.Delete(&model.WeChatAccount{}, byOA.ID).Error; err != nil {
				return fmt.Errorf("merge wechat account %d into %d: %w", byOA.ID, byUnion.ID, err)
			}
			follow["oa_open_id"] = fo.OpenID
			if byOA.FollowedAt != nil && fo.Subscribed && byOA.Following {
				follow["followed_at"] = *byOA.FollowedAt
			}
			if byUnion.MemberID == nil && byOA.MemberID != nil {
				follow["member_id"], follow["bound_at"] = *byOA.MemberID, byOA.BoundAt
			}
			if byOA.SMSOptOut {
				follow["sms_opt_out"] = true
			}
			return tx.Model(&model.WeChatAccount{}).Where("id = ?", byUnion.ID).Updates(follow).Error
		case hasUnion:
			if byUnion.OAOpenID != nil && *byUnion.OAOpenID != fo.OpenID {
				f.log.Warn("unionid already linked to another official-account openid", "account_id", byUnion.ID)
				return nil
			}
			follow["oa_open_id"] = fo.OpenID
			return tx.Model(&model.WeChatAccount{}).Where("id = ?", byUnion.ID).Updates(follow).Error
		case hasOA:
			if byOA.UnionID == nil && fo.UnionID != "" {
				follow["union_id"] = fo.UnionID
			}
			return tx.Model(&model.WeChatAccount{}).Where("id = ?", byOA.ID).Updates(follow).Error
		}
		a := model.WeChatAccount{OAOpenID: &fo.OpenID, Following: fo.Subscribed}
		if fo.Subscribed {
			a.FollowedAt = &now
		}
		if fo.UnionID != "" {
			a.UnionID = &fo.UnionID
		}
		return tx.Create(&a).Error
	})
}

// BackfillOptions bound one Backfill run.
type BackfillOptions struct {
	// MaxCalls is how many WeChat calls (user/get and user/info/batchget) the run may make
	// before it stops with the cursor saved [2000]; WeChat's daily quotas are per account and
	// shared with every other use.
	MaxCalls int
	// Restart drops a saved cursor and starts from the first follower.
	Restart bool
	// Actor, when set, gets an audit row for the run ("followers.backfill"), as staff actions do.
	Actor string
}

// BackfillResult says what one Backfill run did.
type BackfillResult struct {
	Total    int  // followers of the official account, as WeChat counts them
	Checked  int  // followers looked at in this run
	Looked   int  // followers whose user info was fetched (the others were linked already)
	Linked   int  // of those, followers WeChat gave a unionid for
	Calls    int  // WeChat calls made
	Done     bool // the whole list was walked; false: run again to go on from the cursor
	NoUnion  int  // followers without a unionid: the account is not bound to an Open Platform account
	Resumed  bool // the run went on from a saved cursor
	Stopped  string
	Position string // the saved cursor's page start, for the log ("" at the start)
}

// backfillCursor is where an unfinished backfill goes on: the page asked for with next_openid
// Page, after its first Offset followers.
type backfillCursor struct {
	Page   string `json:"page"`
	Offset int    `json:"offset"`
}

const backfillKey = "follower:backfill:cursor"

// Backfill links the followers who followed before Subscribed existed: it pages through the
// follower list (user/get, 10,000 a page) and fetches the unionids of those not linked yet with
// user/info/batchget, 100 a call, linking each as Subscribed does. It stops after MaxCalls
// calls or when WeChat answers a quota error (45009), saving a cursor in kv (kept 30 days) so
// that the next run goes on where this one stopped; a finished run deletes it. Running it again
// after it finished is harmless: linked followers are skipped without a call.
func (f *Followers) Backfill(ctx context.Context, o BackfillOptions) (BackfillResult, error) {
	res, err := f.backfill(ctx, o)
	if o.Actor != "" {
		outcome := "ok"
		if err != nil {
			outcome = "failed"
		}
		if aerr := audit.Write(context.WithoutCancel(ctx), f.db, f.now(), audit.Entry{Actor: o.Actor, Action: "followers.backfill",
			Target: "wechat:followers", Outcome: outcome, Detail: map[string]any{"checked": res.Checked, "linked": res.Linked,
				"no_unionid": res.NoUnion, "calls": res.Calls, "done": res.Done, "stopped": res.Stopped}}); aerr != nil && err == nil {
			err = aerr
		}
	}
	return res, err
}

func (f *Followers) backfill(ctx context.Context, o BackfillOptions) (BackfillResult, error) {
	if o.MaxCalls <= 0 {
		o.MaxCalls = 2000
	}
	var res BackfillResult
	var cur backfillCursor
	if o.Restart {
		if err := f.kv.Del(ctx, backfillKey); err != nil {
			return res, fmt.Errorf("backfill followers: drop cursor: %w", err)
		}
	} else if b, ok, err := f.kv.Get(ctx, backfillKey); err != nil {
		return res, fmt.Errorf("backfill followers: load cursor: %w", err)
	} else if ok && json.Unmarshal(b, &cur) == nil {
		res.Resumed = true
	}
	save := func() error {
		b, _ := json.Marshal(cur)
		if err := f.kv.Set(ctx, backfillKey, b, 30*24*time.Hour); err != nil {
			return fmt.Errorf("backfill followers: save cursor: %w", err)
		}
		res.Position = mask(cur.Page)
		return nil
	}
	stop := func(why string, err error) (BackfillResult, error) {
		res.Stopped = why
		if serr := save(); serr != nil && err == nil {
			err = serr
		}
		return res, err
	}
	for {
		if res.Calls >= o.MaxCalls {
			return stop("max_calls", nil)
		}
		if err := ctx.Err(); err != nil {
			return stop("cancelled", err)
		}
		page, err := f.wx.Followers(ctx, cur.Page)
		res.Calls++
		if err != nil {
			return stop(stopReason(err), fmt.Errorf("backfill followers: list: %w", err))
		}
		res.Total = page.Total
		ids := page.OpenIDs
		if cur.Offset > len(ids) {
			cur.Offset = len(ids)
		}
		for cur.Offset < len(ids) {
			if res.Calls >= o.MaxCalls {
				return stop("max_calls", nil)
			}
			chunk := ids[cur.Offset:min(cur.Offset+wechat.MaxBatchUserInfo, len(ids))]
			todo, err := f.unlinked(ctx, chunk)
			if err != nil {
				return stop("database", err)
			}
			if len(todo) > 0 {
				infos, err := f.wx.UserInfoBatch(ctx, todo)
				res.Calls++
				if err != nil {
					return stop(stopReason(err), fmt.Errorf("backfill followers: user info: %w", err))
				}
				for _, fo := range infos {
					if err := f.link(ctx, fo); err != nil {
						return stop("database", fmt.Errorf("backfill followers: %w", err))
					}
					res.Looked++
					if fo.UnionID != "" {
						res.Linked++
					} else {
						res.NoUnion++
					}
				}
			}
			res.Checked += len(chunk)
			cur.Offset += len(chunk)
			if err := save(); err != nil {
				return res, err
			}
			progress.Report(ctx, int64(res.Checked), int64(max(res.Total, res.Checked)))
		}
		if len(ids) == 0 || page.Next == "" {
			res.Done = true
			if err := f.kv.Del(ctx, backfillKey); err != nil {
				return res, fmt.Errorf("backfill followers: drop cursor: %w", err)
			}
			return res, nil
		}
		cur = backfillCursor{Page: page.Next}
		if err := save(); err != nil {
			return res, err
		}
	}
}

// unlinked returns the openids of ids that no following account holds with a unionid.
func (f *Followers) unlinked(ctx context.Context, ids []string) ([]string, error) {
	var done []string
	if err := f.db.WithContext(ctx).Model(&model.WeChatAccount{}).
		Where("oa_open_id IN ? AND union_id IS NOT NULL AND following = ?", ids, true).
		Pluck("oa_open_id", &done).Error; err != nil {
		return nil, fmt.Errorf("backfill followers: load linked: %w", err)
	}
	seen := make(map[string]bool, len(done))
	for _, d := range done {
		seen[d] = true
	}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func stopReason(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "cancelled"
	}
	if wechat.Classify(err) == wechat.RateLimited {
		return "quota"
	}
	return "wechat_error"
}

// mask shortens an openid for logs and errors: the first 6 characters.
func mask(openID string) string {
	if len(openID) <= 6 {
		return openID
	}
	return openID[:6] + "…"
}
