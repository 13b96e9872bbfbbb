package wechat_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/handler"
	wxh "huzhu/handler/wechat"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/notify"
	"huzhu/service/payout"
	"huzhu/service/policy"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat/wechattest"
)

// followFixture is the callback with follower linking and template receipts, the notice
// dispatcher sending through the same fake WeChat, and one worker bound in the mini-program.
type followFixture struct {
	fixture
	fake     *wechattest.Fake
	notices  *notify.Dispatcher
	memberID uint64
}

const (
	workerOA    = "oWorkerOfficial01" // the worker's official-account openid
	workerUnion = "uWorkerUnion01"    // their unionid (both apps bound to one Open Platform account)
)

func newFollowFixture(t *testing.T, link bool) *followFixture {
	t.Helper()
	fake := wechattest.New(t)
	wx := fake.Client(t)
	db := storetest.NewDB(t)
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := bot.ParseFAQ(config.FAQYAML, vs, bot.Links{}, bot.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	kvs := kvtest.New(t)
	now := func() time.Time { return testNow }
	engine, err := policy.New(vs)
	if err != nil {
		t.Fatal(err)
	}
	payouts := payout.New(db, engine, calendar.New(model.Shanghai), payout.Options{}, now)
	b := bot.New(kb, calendar.New(model.Shanghai), db, payouts, kvs, bot.Options{}, now, nil)
	log := slog.New(slog.DiscardHandler)
	d := notify.New(db, notify.Senders{Template: notify.NewWeChat(wx)}, notify.Options{
		Templates: notify.Templates{OAArrived: "tmpl-arrived"}, KV: kvs, Owner: "test"}, now, log)
	opts := wxh.Options{Receipts: d, Mode: wxh.ModePlain, Now: now}
	if link {
		opts.Followers = member.NewFollowers(db, wx, kvs, now, log)
	}
	app := handler.New(handler.Options{BodyLimit: 256 << 10})
	wxh.New(b, wx, opts, nil).Mount(app)
	f := &followFixture{fixture: fixture{app: app, db: db, cb: wx.Callback(), wx: wx}, fake: fake, notices: d}

	// The worker bound their card in the mini-program: WeChat gave the mini-program login a unionid.
	m := model.Member{UnionID: 1, Name: "职工", IDNumberEnc: []byte("x"), IDNumberHash: "id-follow", IDLast4: "0000"}
	mustCreate(t, db, &m)
	mp, union, bound := "oWorkerMini01", workerUnion, testNow.Add(-time.Hour)
	mustCreate(t, db, &model.WeChatAccount{MPOpenID: &mp, UnionID: &union, MemberID: &m.ID, BoundAt: &bound})
	f.memberID = m.ID
	fake.Follow(workerOA, workerUnion)
	return f
}

func mustCreate(t testing.TB, db *gorm.DB, v any) {
	t.Helper()
	if err := db.Create(v).Error; err != nil {
		t.Fatal(err)
	}
}

// push posts a pushed event the way WeChat does (plain mode) and wants 200.
func (f *followFixture) push(t *testing.T, xml string) {
	t.Helper()
	target := f.plainURL("&openid=" + workerOA) // a fresh nonce: the callback serves a nonce once
	if code, body, _ := f.do(t, http.MethodPost, target, xml); code != http.StatusOK {
		t.Fatalf("push = %d %q, want 200", code, body)
	}
}

// notice queues an arrival notice for the worker and dispatches it; it returns the row's
// final channel row (the last row of the notice).
func (f *followFixture) notice(t *testing.T, transfer uint64) model.Notification {
	t.Helper()
	ctx := context.Background()
	if _, err := notify.Enqueue(ctx, f.db, notify.Notice{Subject: notify.TransferSubject(transfer), MemberID: f.memberID,
		Kind: model.NoticeArrived, Payload: notify.Payload{AmountFen: 12345, Period: "2025-Q1", TransferID: transfer},
		At: testNow}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.notices.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var rows []model.Notification
	if err := f.db.Where("dedup_key LIKE ?", notify.TransferSubject(transfer)+":%").Order("id").Find(&rows).Error; err != nil || len(rows) == 0 {
		t.Fatalf("rows of transfer %d: %v, %v", transfer, rows, err)
	}
	return rows[0]
}

// TestSubscribePushLinksFollower sends WeChat's real subscribe push — openid only, no UnionId —
// and wants the worker's next notice to go out as an official-account template message; after
// the unsubscribe push, the next one may not.
func TestSubscribePushLinksFollower(t *testing.T) {
	f := newFollowFixture(t, true)
	f.push(t, wechattest.SubscribeXML(workerOA, testNow))

	row := f.notice(t, 1)
	if row.Channel != model.ChannelTemplate || row.Status != model.NoticeSent {
		t.Fatalf("notice after subscribe: %s %s (%s), want sent as a template message", row.Channel, row.Status, row.LastError)
	}
	msgs := f.fake.Messages(t, wechattest.PathTemplateSend)
	if len(msgs) != 1 || msgs[0].ToUser != workerOA {
		t.Fatalf("template messages = %+v, want one to %s", msgs, workerOA)
	}
	var n int64
	f.db.Model(&model.WeChatAccount{}).Count(&n)
	if n != 1 {
		t.Errorf("%d WeChat account rows, want the one of the mini-program, linked", n)
	}

	f.fake.Unfollow(workerOA)
	f.push(t, wechattest.UnsubscribeXML(workerOA, testNow.Add(time.Minute)))
	row = f.notice(t, 2)
	if row.Channel == model.ChannelTemplate && row.Status == model.NoticeSent {
		t.Fatalf("notice after unsubscribe was sent as a template message")
	}
	if got := len(f.fake.Messages(t, wechattest.PathTemplateSend)); got != 1 {
		t.Errorf("%d template messages after unsubscribe, want still 1", got)
	}

	// Following again links again, without a second row.
	f.fake.Follow(workerOA, workerUnion)
	f.push(t, wechattest.SubscribeXML(workerOA, testNow.Add(2*time.Minute)))
	if row = f.notice(t, 3); row.Status != model.NoticeSent {
		t.Fatalf("notice after following again: %s (%s), want sent", row.Status, row.LastError)
	}
}

// TestSubscribePushWithoutLinking is the old behaviour: the push alone cannot link the worker.
func TestSubscribePushWithoutLinking(t *testing.T) {
	f := newFollowFixture(t, false)
	f.push(t, wechattest.SubscribeXML(workerOA, testNow))
	if row := f.notice(t, 1); row.Status == model.NoticeSent {
		t.Fatalf("without follower linking the template message went out; the fixture does not reproduce the issue")
	}
}

// TestUnknownOpenIDLinkedOnFirstMessage: a follower from before the link existed writes to the
// account; their first message links them.
func TestUnknownOpenIDLinkedOnFirstMessage(t *testing.T) {
	f := newFollowFixture(t, true)
	f.push(t, textXML(workerOA, 501, "你好"))
	if row := f.notice(t, 1); row.Status != model.NoticeSent || row.Channel != model.ChannelTemplate {
		t.Fatalf("notice after first message: %s %s (%s), want sent as a template message", row.Channel, row.Status, row.LastError)
	}
	if got := f.fake.Count(wechattest.PathUserInfo); got != 1 {
		t.Errorf("user/info called %d times, want 1", got)
	}
	f.push(t, textXML(workerOA, 502, "谢谢"))
	if got := f.fake.Count(wechattest.PathUserInfo); got != 1 {
		t.Errorf("user/info called %d times after a second message, want still 1 (already linked)", got)
	}
}

// TestTemplateReceipt: WeChat's TEMPLATESENDJOBFINISH push reporting "failed:user block" turns
// the sent row into a failed one and queues the notice on the next channel.
func TestTemplateReceipt(t *testing.T) {
	f := newFollowFixture(t, true)
	f.push(t, wechattest.SubscribeXML(workerOA, testNow))
	row := f.notice(t, 1)
	if row.Status != model.NoticeSent || row.ProviderRef == "" {
		t.Fatalf("row = %s ref %q, want sent with the msgid", row.Status, row.ProviderRef)
	}
	var msgID int64
	for _, c := range row.ProviderRef {
		msgID = msgID*10 + int64(c-'0')
	}
	f.push(t, wechattest.TemplateFinishedXML(workerOA, msgID, wechattest.TemplateUserBlock, testNow))
	var rows []model.Notification
	f.db.Where("member_id = ?", f.memberID).Order("id").Find(&rows)
	if len(rows) != 2 || rows[0].Status != model.NoticeFailed || rows[1].Channel != model.ChannelSubscribe {
		t.Fatalf("after a user-block receipt: %+v, want the template row failed and a subscribe-message row", rows)
	}
}
