package member_test

import (
	"context"
	"fmt"
	"testing"

	"huzhu/model"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat/wechattest"
)

// TestFollowerLinks covers each way a subscribe finds the person's rows.
func TestFollowerLinks(t *testing.T) {
	tests := []struct {
		name     string
		union    string // what user/info returns
		rows     func() []model.WeChatAccount
		wantRows int
		wantLink bool // the member's row ends with the openid, following
	}{
		{"mini-program row with the unionid gets the openid", "u-1", func() []model.WeChatAccount {
			return []model.WeChatAccount{{MPOpenID: ptr("mp-1"), UnionID: ptr("u-1"), MemberID: ptr(uint64(1))}}
		}, 1, true},
		{"earlier unlinked official-account row is merged", "u-1", func() []model.WeChatAccount {
			return []model.WeChatAccount{{MPOpenID: ptr("mp-1"), UnionID: ptr("u-1"), MemberID: ptr(uint64(1))},
				{OAOpenID: ptr("oa-1"), Following: false}}
		}, 1, true},
		{"no unionid (account not bound to an Open Platform account)", "", func() []model.WeChatAccount {
			return []model.WeChatAccount{{MPOpenID: ptr("mp-1"), UnionID: ptr("u-1"), MemberID: ptr(uint64(1))}}
		}, 2, false},
		{"rows bound to different members stay apart", "u-1", func() []model.WeChatAccount {
			return []model.WeChatAccount{{MPOpenID: ptr("mp-1"), UnionID: ptr("u-1"), MemberID: ptr(uint64(1))},
				{OAOpenID: ptr("oa-1"), MemberID: ptr(uint64(2))}}
		}, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.NewDB(t)
			fake := wechattest.New(t)
			for _, r := range tc.rows() {
				mustDo(t, db.Create(&r).Error)
			}
			fake.Follow("oa-1", tc.union)
			f := member.NewFollowers(db, fake.Client(t), kvtest.New(t), nil, nil)
			if err := f.Subscribed(context.Background(), "oa-1"); err != nil {
				t.Fatalf("Subscribed: %v", err)
			}
			var rows []model.WeChatAccount
			mustDo(t, db.Order("id").Find(&rows).Error)
			if len(rows) != tc.wantRows {
				t.Fatalf("%d rows, want %d: %+v", len(rows), tc.wantRows, rows)
			}
			var a model.WeChatAccount
			mustDo(t, db.Where("member_id = ?", 1).Take(&a).Error)
			linked := a.OAOpenID != nil && *a.OAOpenID == "oa-1" && a.Following
			if linked != tc.wantLink {
				t.Fatalf("member's row %+v linked = %v, want %v", a, linked, tc.wantLink)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestBackfillFollowers pages through 250 followers (pages of 100), stops at its call budget,
// goes on from the saved cursor, and on a second pass calls only user/get.
func TestBackfillFollowers(t *testing.T) {
	db := storetest.NewDB(t)
	fake := wechattest.New(t)
	fake.SetPageSize(100)
	const n = 250
	for i := range n {
		oa, union := fmt.Sprintf("oa-%03d", i), fmt.Sprintf("u-%03d", i)
		fake.Follow(oa, union)
		mp, member := fmt.Sprintf("mp-%03d", i), uint64(i+1)
		mustDo(t, db.Create(&model.WeChatAccount{MPOpenID: &mp, UnionID: &union, MemberID: &member}).Error)
	}
	// One follower was linked already by a subscribe: no lookup for them.
	mustDo(t, db.Model(&model.WeChatAccount{}).Where("union_id = ?", "u-000").
		Updates(map[string]any{"oa_open_id": "oa-000", "following": true}).Error)
	f := member.NewFollowers(db, fake.Client(t), kvtest.New(t), nil, nil)
	ctx := context.Background()

	res, err := f.Backfill(ctx, member.BackfillOptions{MaxCalls: 3})
	if err != nil || res.Done || res.Stopped != "max_calls" || res.Calls != 3 {
		t.Fatalf("first run = %+v, %v; want stopped at 3 calls", res, err)
	}
	res, err = f.Backfill(ctx, member.BackfillOptions{})
	if err != nil || !res.Done || !res.Resumed {
		t.Fatalf("second run = %+v, %v; want done, resumed", res, err)
	}
	var linked int64
	mustDo(t, db.Model(&model.WeChatAccount{}).Where("oa_open_id IS NOT NULL AND following = ? AND member_id IS NOT NULL", true).Count(&linked).Error)
	if linked != n {
		t.Fatalf("%d followers linked, want %d", linked, n)
	}
	if got := fake.Count(wechattest.PathUserInfoBatch); got != 3 {
		t.Errorf("batchget called %d times, want 3 (249 unlinked followers, 100 a call)", got)
	}
	for _, r := range fake.Requests(wechattest.PathUserInfoBatch) {
		var b struct {
			UserList []struct{ OpenID string } `json:"user_list"`
		}
		_ = r.Decode(&b)
		if len(b.UserList) > 100 {
			t.Errorf("batchget with %d openids, WeChat takes 100", len(b.UserList))
		}
	}
	before := fake.Count(wechattest.PathUserInfoBatch)
	res, err = f.Backfill(ctx, member.BackfillOptions{})
	if err != nil || !res.Done || res.Resumed || res.Looked != 0 {
		t.Fatalf("third run = %+v, %v; want done from the start, nothing looked up", res, err)
	}
	if got := fake.Count(wechattest.PathUserInfoBatch); got != before {
		t.Errorf("a run over linked followers called batchget %d times", got-before)
	}
}
