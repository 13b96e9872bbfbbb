package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat"
	"huzhu/service/wechat/wechattest"
)

// The duplicate paths of issue 15, each against the fake WeChat, which drops a template message
// repeating an openid and client_msg_id for 10 minutes on its clock (the test clock) and
// delivers it again after that, as WeChat documents.

type onceFixture struct {
	fake  *wechattest.Fake
	wx    *wechat.Client
	clock *clock
	d     *Dispatcher
	id    uint64 // the member
	key   string // touser|client_msg_id of the notice
}

func newOnceFixture(t *testing.T) *onceFixture {
	t.Helper()
	db := storetest.NewDB(t)
	fake := wechattest.New(t)
	wx := fake.Client(t)
	c := newClock(t0)
	fake.SetClock(c.Now)
	f := &onceFixture{fake: fake, wx: wx, clock: c}
	f.d = New(db, Senders{Template: NewWeChat(wx)}, Options{Templates: testTemplates, Owner: "once"}, c.Now, quietLog())
	f.id = mustMember(t, db, testCipher(t), 1, person{follows: true})
	mustEnqueue(t, db, f.id, 7, model.NoticeArrived, t0)
	f.key = "oa-1|" + DedupKey(TransferSubject(7), model.NoticeArrived, model.ChannelTemplate)
	return f
}

// run dispatches every step of simulated time for up to d, stopping when the notice's row is
// no longer pending.
func (f *onceFixture) run(t *testing.T, d, step time.Duration) model.Notification {
	t.Helper()
	end := f.clock.Now().Add(d)
	for {
		if _, err := f.d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		row := rowsOf(t, f.d.db, f.id)[0]
		if row.Status != model.NoticePending && row.Status != model.NoticeSending || !f.clock.Now().Before(end) {
			return row
		}
		f.clock.Add(step)
	}
}

func TestUnknownOutcomeRetriedInsideWindow(t *testing.T) {
	tests := []struct {
		name   string
		faults func(*wechattest.Fake)
		want   model.NoticeStatus
	}{
		// Seen: 20 of 20 workers got two copies after a recorded-then-dropped send followed by
		// 10 minutes of -1; the doubling backoff retried after WeChat's window.
		{"dropped after delivery, then busy", func(f *wechattest.Fake) {
			f.FailNext(wechattest.PathTemplateSend, -1, 6)
		}, model.NoticeSent},
		// 45009 held the row an hour, past the window.
		{"dropped after delivery, then daily quota", func(f *wechattest.Fake) {
			f.FailNext(wechattest.PathTemplateSend, 45009, 2)
		}, model.NoticeSent},
		// WeChat busy for longer than the window: the rule of doc.go ends the row as failed for
		// staff; it is not sent a second time.
		{"dropped after delivery, then busy for 15 minutes", func(f *wechattest.Fake) {
			f.FailNext(wechattest.PathTemplateSend, -1, 1000)
		}, model.NoticeFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newOnceFixture(t)
			// The first send is delivered and its answer lost; the faults hit the retries.
			f.fake.DropAfterSend(wechattest.PathTemplateSend, 1)
			if _, err := f.d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.fake.Delivered()[f.key]; got != 1 {
				t.Fatalf("first send delivered %d times, want 1", got)
			}
			tc.faults(f.fake)
			row := f.run(t, 30*time.Minute, 5*time.Second)
			if row.Status != tc.want {
				t.Errorf("row = %s (%s), want %s", row.Status, row.LastError, tc.want)
			}
			if row.Status == model.NoticeFailed && !strings.Contains(row.LastError, "去重时限") {
				t.Errorf("failed row says %q, want the reason (past WeChat's window) for staff", row.LastError)
			}
			// Whatever else happens, the busy answers end by the window; then nothing more is sent.
			f.clock.Add(time.Hour)
			f.run(t, 10*time.Minute, time.Minute)
			if got := f.fake.Delivered()[f.key]; got != 1 {
				t.Errorf("delivered %d times, want exactly once", got)
			}
		})
	}
}

// TestUnknownOutcomeGoesBeforeBacklog: a retry of an unknown outcome is claimed before a
// backlog of older due notices (seen: 24 of 61 delivered twice behind a backlog).
func TestUnknownOutcomeGoesBeforeBacklog(t *testing.T) {
	f := newOnceFixture(t)
	db := f.d.db
	c := testCipher(t)
	for i := range 30 {
		m := mustMember(t, db, c, 100+i, person{follows: true})
		mustEnqueue(t, db, m, uint64(1000+i), model.NoticeArrived, t0.Add(-time.Hour))
	}
	since := t0.Add(-time.Minute)
	if err := db.Model(&model.Notification{}).Where("member_id = ?", f.id).
		Updates(map[string]any{"ambiguous": 1, "unsure_since": since, "next_attempt_at": t0}).Error; err != nil {
		t.Fatal(err)
	}
	f.d.o.Batch = 5
	if _, err := f.d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if row := rowsOf(t, db, f.id)[0]; row.Status != model.NoticeSent {
		t.Fatalf("unknown-outcome row after one batch of 5 = %s, want sent before the backlog", row.Status)
	}
}

// TestKilledDispatcher: a dispatcher died after WeChat delivered and before it recorded the
// send. Within the window the resend is dropped by WeChat; after it, the row ends as failed for
// staff instead of a second copy.
func TestKilledDispatcher(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claimed time.Duration // how long ago the dead dispatcher claimed the row and sent
		want    model.NoticeStatus
	}{
		{"reclaimed inside the window", 2 * time.Minute, model.NoticeSent},
		{"reclaimed after the window", 25 * time.Minute, model.NoticeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOnceFixture(t)
			db := f.d.db
			at := t0.Add(-tc.claimed)
			f.clock.Set(at)
			if _, err := f.wx.SendTemplate(context.Background(), wechat.TemplateMessage{ToUser: "oa-1", TemplateID: "oa-arr",
				Data: map[string]string{}, ClientMsgID: DedupKey(TransferSubject(7), model.NoticeArrived, model.ChannelTemplate)}); err != nil {
				t.Fatal(err)
			}
			f.clock.Set(t0)
			lease := at.Add(f.d.o.Lease)
			if err := db.Model(&model.Notification{}).Where("member_id = ?", f.id).Updates(map[string]any{
				"status": model.NoticeSending, "lease_owner": "dead", "lease_until": lease, "attempts": 1}).Error; err != nil {
				t.Fatal(err)
			}
			row := f.run(t, 20*time.Minute, 10*time.Second)
			if row.Status != tc.want {
				t.Fatalf("row = %s (%s), want %s", row.Status, row.LastError, tc.want)
			}
			if got := f.fake.Delivered()[f.key]; got != 1 {
				t.Errorf("delivered %d times, want exactly once", got)
			}
			if tc.want == model.NoticeFailed {
				// WeChat's receipt of the first send tells us it arrived: the row leaves the failed list.
				if err := f.d.TemplateFinished(context.Background(), "oa-1", 1001, wechattest.TemplateSuccess); err != nil {
					t.Fatal(err)
				}
				if row := rowsOf(t, db, f.id)[0]; row.Status != model.NoticeSent || row.ProviderRef != fmt.Sprint(1001) {
					t.Errorf("after a success receipt: %s ref %q, want sent with the msgid", row.Status, row.ProviderRef)
				}
			}
		})
	}
}
