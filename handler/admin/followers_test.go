package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gorm.io/gorm"

	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/wechat/wechattest"
)

// TestBackfillFollowersJob: staff link the official account's existing followers from the
// notices page; the job links them, the reach table counts them, and an audit row records it.
func TestBackfillFollowersJob(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	w := newWorldDB(t, func(db *gorm.DB, d *admin.Deps) {
		d.Followers = member.NewFollowers(db, wx, kvtest.New(t), d.Now, d.Log)
	})
	// 张一 bound in the mini-program (unionid u-1) and followed the account before linking existed.
	id := w.memberID("张一")
	mp, union := "mp-1", "u-1"
	if err := w.db.Create(&model.WeChatAccount{MPOpenID: &mp, UnionID: &union, MemberID: &id}).Error; err != nil {
		t.Fatal(err)
	}
	fake.Follow("oa-1", "u-1")
	fake.Follow("oa-stranger", "u-9")

	op := w.login("op1")
	if _, page := op.get("/admin/notifications"); !strings.Contains(page, "关联已有关注者") {
		t.Fatalf("notices page has no backfill button")
	}
	j, _ := op.finish(op.post("/admin/notifications/backfill", url.Values{}))
	if j.Status != model.JobDone {
		t.Fatalf("job = %s (%s), want done", j.Status, j.Error)
	}
	var a model.WeChatAccount
	if err := w.db.Where("member_id = ?", id).Take(&a).Error; err != nil {
		t.Fatal(err)
	}
	if a.OAOpenID == nil || *a.OAOpenID != "oa-1" || !a.Following {
		t.Fatalf("张一's account after the job: %+v, want linked to oa-1 and following", a)
	}
	var audited int64
	w.db.Model(&model.AuditLog{}).Where("action = ? AND actor = ?", "followers.backfill", "op1").Count(&audited)
	if audited != 1 {
		t.Errorf("%d audit rows for the backfill, want 1", audited)
	}
	if res, _ := w.login("aud").post("/admin/notifications/backfill", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor starting the backfill = %d, want 403", res.StatusCode)
	}
}
