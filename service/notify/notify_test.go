package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/store/storetest"
)

func TestChannelChoice(t *testing.T) {
	tests := []struct {
		name       string
		p          person
		wantSent   model.Channel // "" when nothing is sent
		wantStatus []model.NoticeStatus
	}{
		{"follower gets the template message", person{follows: true, subscribed: true, phone: "13800001234"},
			model.ChannelTemplate, []model.NoticeStatus{model.NoticeSent}},
		{"subscriber gets the subscribe message", person{subscribed: true, phone: "13800001234"},
			model.ChannelSubscribe, []model.NoticeStatus{model.NoticeSkipped, model.NoticeSent}},
		{"no WeChat gets SMS", person{noWeChat: true, phone: "13800001234"},
			model.ChannelSMS, []model.NoticeStatus{model.NoticeSkipped, model.NoticeSent}},
		{"opted out of SMS and unreachable on WeChat gets nothing", person{optOut: true, phone: "13800001234"},
			"", []model.NoticeStatus{model.NoticeSkipped}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.NewDB(t)
			c := testCipher(t)
			clk := newClock(t0)
			tpl, sub, sms := &fakeTemplate{}, &fakeSubscribe{}, &fakeSMS{}
			d := New(db, Senders{Template: tpl, Subscribe: sub, SMS: sms, Phones: c},
				Options{Templates: testTemplates}, clk.Now, quietLog())
			id := mustMember(t, db, c, i, tc.p)
			mustEnqueue(t, db, id, 7, model.NoticeArrived, t0)
			for range 3 { // a fallback row is picked up by the next round
				if _, err := d.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			got := map[model.Channel]int{model.ChannelTemplate: len(tpl.sent()), model.ChannelSubscribe: len(sub.msgs),
				model.ChannelSMS: len(sms.sent())}
			for ch, n := range got {
				want := 0
				if ch == tc.wantSent {
					want = 1
				}
				if n != want {
					t.Errorf("%s messages = %d, want %d", ch, n, want)
				}
			}
			rows := rowsOf(t, db, id)
			var st []model.NoticeStatus
			for _, r := range rows {
				st = append(st, r.Status)
			}
			if len(st) != len(tc.wantStatus) {
				t.Fatalf("row statuses = %v, want %v", st, tc.wantStatus)
			}
			for j := range st {
				if st[j] != tc.wantStatus[j] {
					t.Fatalf("row statuses = %v, want %v", st, tc.wantStatus)
				}
			}
			switch tc.wantSent {
			case model.ChannelTemplate:
				m := tpl.sent()[0]
				if m.ClientMsgID != "transfer:7:arrived:oa_template" || m.ToUser != "oa-0" || m.TemplateID != "oa-arr" ||
					m.MiniProgramPage != "pages/payout/detail?transfer_id=7" {
					t.Errorf("template message = %+v", m)
				}
				if m.Data["amount1"] != "200653.00元" || m.Data["thing2"] != "互助服务卡尾号1234" ||
					m.Data["thing3"] != "2025年第1季度门诊互助金" {
					t.Errorf("template data = %v", m.Data)
				}
			case model.ChannelSMS:
				m := sms.sent()[0]
				want := "在职职工医疗互助保障计划互助金人民币200653元已打入您的尾号1234工会会员互助服务卡中，详询12351。"
				if m.phone != "13800001234" || m.text != want {
					t.Errorf("SMS = %q to %s, want %q", m.text, m.phone, want)
				}
			case "":
				if !strings.Contains(rows[0].LastError, "无可用通知渠道") || !strings.Contains(rows[0].LastError, "已退订短信") {
					t.Errorf("last_error = %q, want it to say no channel and SMS opt-out", rows[0].LastError)
				}
			}
		})
	}
}

func TestFieldsRespectWeChatLimits(t *testing.T) {
	long := Payload{AmountFen: 12345, Period: "2025-03", ClaimTypes: "门诊、普通住院、特病住院", AccountKind: "bank",
		AccountLast4: "9876", ExpectedBy: "2025-05-06"}
	for _, k := range []model.NoticeKind{model.NoticeArrived, model.NoticeApproved, model.NoticeFailedTx} {
		t.Run(string(k), func(t *testing.T) {
			c, err := render(k, long, "12351", model.DateOf(t0))
			if err != nil {
				t.Fatal(err)
			}
			for key, v := range c.data {
				if n := len([]rune(v)); key != keyAmount && key != keyDate && n > 20 {
					t.Errorf("%s = %q has %d characters, WeChat allows 20", key, v, n)
				}
			}
			if c.data[keyAmount] != "123.45元" {
				t.Errorf("amount = %q, want 123.45元", c.data[keyAmount])
			}
			switch k {
			case model.NoticeApproved:
				if !strings.Contains(c.sms, "本期互助金已核算，预计5月6日前到账") {
					t.Errorf("approved SMS = %q", c.sms)
				}
			case model.NoticeFailedTx:
				if c.data[keyNote] != "转账失败，请联系基层工会" || !strings.Contains(c.sms, "转账失败，请联系基层工会") {
					t.Errorf("failed notice = %v / %q", c.data, c.sms)
				}
			}
		})
	}
}

func TestTransientFailureBacksOffThenSends(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	clk := newClock(t0)
	tpl := &fakeTemplate{fail: func(n int, _ TemplateMessage) error {
		if n == 1 {
			return &SendError{Kind: FailTransient, Code: -1, Message: "system busy"}
		}
		return nil
	}}
	d := New(db, Senders{Template: tpl}, Options{Templates: testTemplates}, clk.Now, quietLog())
	id := mustMember(t, db, c, 1, person{follows: true})
	mustEnqueue(t, db, id, 1, model.NoticeArrived, t0)

	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := rowsOf(t, db, id)[0]
	if r.Status != model.NoticePending || r.Attempts != 1 || !strings.Contains(r.LastError, "-1") {
		t.Fatalf("after a busy answer: status %s attempts %d last_error %q; want pending, 1, the code", r.Status, r.Attempts, r.LastError)
	}
	if wait := r.NextAttemptAt.Sub(t0); wait < 15*time.Second || wait > 30*time.Second {
		t.Errorf("next attempt in %v, want 15–30 s (30 s base with jitter)", wait)
	}
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Errorf("RunOnce before the retry time claimed %d rows, want 0", n)
	}
	clk.Add(31 * time.Second)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = rowsOf(t, db, id)[0]
	if r.Status != model.NoticeSent || r.Attempts != 2 || r.SentAt == nil || r.ProviderRef != "2" || len(tpl.sent()) != 1 {
		t.Errorf("after retry: %s, attempts %d, ref %q, %d sent; want sent, 2, ref 2, 1", r.Status, r.Attempts, r.ProviderRef, len(tpl.sent()))
	}
}

func TestFailuresEndFailedAndStaffRetry(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	clk := newClock(t0)
	var broken = true
	tpl := &fakeTemplate{fail: func(int, TemplateMessage) error {
		if broken {
			return &SendError{Kind: FailTransient, Code: -1}
		}
		return nil
	}}
	d := New(db, Senders{Template: tpl}, Options{Templates: testTemplates, MaxAttempts: 3}, clk.Now, quietLog())
	a := mustMember(t, db, c, 1, person{follows: true})
	b := mustMember(t, db, c, 2, person{follows: true})
	mustEnqueue(t, db, a, 1, model.NoticeArrived, t0)
	mustEnqueue(t, db, b, 2, model.NoticeArrived, t0)
	for range 3 {
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Hour)
	}
	for _, id := range []uint64{a, b} {
		r := rowsOf(t, db, id)[0]
		if r.Status != model.NoticeFailed || r.Attempts != 3 || !strings.Contains(r.LastError, "已尝试3次") {
			t.Fatalf("member %d: %s after %d attempts (%q), want failed after 3", id, r.Status, r.Attempts, r.LastError)
		}
	}
	failed, err := d.Failed(context.Background(), 10)
	if err != nil || len(failed) != 2 {
		t.Fatalf("Failed() = %d rows, %v; want 2", len(failed), err)
	}

	ctx := context.Background()
	rowA := rowsOf(t, db, a)[0]
	if err := d.Retry(ctx, 9999, asActor("cli:test")); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("Retry(unknown) = %v, want NotFound", err)
	}
	broken = false
	if err := d.Retry(ctx, rowA.ID, asActor("cli:test")); err != nil {
		t.Fatal(err)
	}
	if err := d.Retry(ctx, rowA.ID, asActor("cli:test")); errs.KindOf(err) != errs.KindConflict {
		t.Errorf("Retry(pending row) = %v, want Conflict", err)
	}
	if n, err := d.RetryAllFailed(ctx, asActor("cli:test")); err != nil || n != 1 {
		t.Errorf("RetryAllFailed = %d, %v; want 1 (the other row)", n, err)
	}
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{a, b} {
		if r := rowsOf(t, db, id)[0]; r.Status != model.NoticeSent || r.Attempts != 1 {
			t.Errorf("member %d after retry: %s, attempts %d; want sent, 1", id, r.Status, r.Attempts)
		}
	}
	var audits int64
	db.Model(&model.AuditLog{}).Where("action IN ?", []string{"notice.retry", "notice.retry_all"}).Count(&audits)
	if audits != 2 {
		t.Errorf("audit rows = %d, want 2", audits)
	}
	stats, err := d.Stats(ctx)
	if err != nil || len(stats) != 1 || stats[0].Status != model.NoticeSent || stats[0].N != 2 {
		t.Errorf("Stats() = %+v, %v; want 2 sent", stats, err)
	}
}

func TestBadRequestFailsAtOnce(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	tpl := &fakeTemplate{fail: func(int, TemplateMessage) error {
		return &SendError{Kind: FailBadRequest, Code: 47003, Message: "argument invalid! data.thing2.value"}
	}}
	sms := &fakeSMS{}
	d := New(db, Senders{Template: tpl, SMS: sms, Phones: c}, Options{Templates: testTemplates}, newClock(t0).Now, quietLog())
	id := mustMember(t, db, c, 1, person{follows: true, phone: "13900002222"})
	mustEnqueue(t, db, id, 1, model.NoticeArrived, t0)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := rowsOf(t, db, id)
	if len(rows) != 1 || rows[0].Status != model.NoticeFailed || !strings.Contains(rows[0].LastError, "47003") {
		t.Fatalf("rows = %+v, want one failed row naming 47003", rows)
	}
	if len(sms.sent()) != 0 {
		t.Error("a bad-data failure fell back to SMS; it should wait for staff")
	}
}

func TestQuietHours(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	night := time.Date(2025, 4, 21, 23, 30, 0, 0, model.Shanghai)
	clk := newClock(night)
	q, err := ParseQuiet("22:00", "08:00")
	if err != nil {
		t.Fatal(err)
	}
	tpl := &fakeTemplate{}
	d := New(db, Senders{Template: tpl}, Options{Templates: testTemplates, Quiet: q}, clk.Now, quietLog())
	calm := mustMember(t, db, c, 1, person{follows: true})
	urgent := mustMember(t, db, c, 2, person{follows: true})
	mustEnqueue(t, db, calm, 1, model.NoticeArrived, night.Add(-time.Hour))
	if _, err := Enqueue(context.Background(), db, Notice{Subject: TransferSubject(2), MemberID: urgent,
		Kind: model.NoticeFailedTx, Payload: arrivedPayload(2), Urgent: true, At: night}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := tpl.sent(); len(got) != 1 || got[0].ToUser != "oa-2" {
		t.Fatalf("sent during quiet hours: %+v, want only the urgent notice", got)
	}
	morning := time.Date(2025, 4, 22, 8, 0, 0, 0, model.Shanghai)
	if r := rowsOf(t, db, calm)[0]; r.Status != model.NoticePending || !r.NextAttemptAt.Equal(morning) || r.Attempts != 0 {
		t.Errorf("non-urgent row: %s at %v (attempts %d), want pending until %v, no attempt used",
			r.Status, r.NextAttemptAt, r.Attempts, morning)
	}
	clk.Set(morning.Add(-time.Minute))
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Errorf("claimed %d rows at 07:59, want 0", n)
	}
	clk.Set(morning)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tpl.sent()) != 2 {
		t.Errorf("after quiet hours %d messages, want 2", len(tpl.sent()))
	}
}

func TestQuietIn(t *testing.T) {
	night, _ := ParseQuiet("22:00", "08:00")
	noon, _ := ParseQuiet("12:00", "14:00")
	at := func(d, h, m int) time.Time { return time.Date(2025, 4, d, h, m, 0, 0, model.Shanghai) }
	tests := []struct {
		name    string
		q       Quiet
		t       time.Time
		in      bool
		wantEnd time.Time
	}{
		{"evening before start", night, at(21, 21, 59), false, time.Time{}},
		{"at start", night, at(21, 22, 0), true, at(22, 8, 0)},
		{"after midnight", night, at(22, 3, 0), true, at(22, 8, 0)},
		{"at end", night, at(22, 8, 0), false, time.Time{}},
		{"UTC input is read in Beijing", night, time.Date(2025, 4, 21, 15, 0, 0, 0, time.UTC), true, at(22, 8, 0)},
		{"same-day window", noon, at(21, 13, 0), true, at(21, 14, 0)},
		{"none", Quiet{}, at(21, 23, 0), false, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, end := tc.q.In(tc.t)
			if in != tc.in || !end.Equal(tc.wantEnd) {
				t.Errorf("In(%v) = %v, %v; want %v, %v", tc.t, in, end, tc.in, tc.wantEnd)
			}
		})
	}
	if _, err := ParseQuiet("25:00", "08:00"); err == nil {
		t.Error("ParseQuiet(25:00) succeeded")
	}
}

func TestEnqueueIsIdempotent(t *testing.T) {
	db := storetest.NewDB(t)
	n := Notice{Subject: TransferSubject(5), MemberID: 1, Kind: model.NoticeArrived, Payload: arrivedPayload(5), At: t0}
	for i, want := range []bool{true, false} {
		ok, err := Enqueue(context.Background(), db, n)
		if err != nil || ok != want {
			t.Fatalf("Enqueue #%d = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	if _, err := Enqueue(context.Background(), db, Notice{Subject: "x", MemberID: 1, Kind: model.NoticeArrived}); err == nil {
		t.Error("Enqueue without a time succeeded")
	}
	var count int64
	db.Model(&model.Notification{}).Count(&count)
	if count != 1 {
		t.Errorf("%d rows, want 1", count)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want FailKind
	}{
		{"typed", &SendError{Kind: FailUser}, FailUser},
		{"deadline", context.DeadlineExceeded, FailAmbiguous},
		{"unknown", errors.New("boom"), FailTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err).Kind; got != tc.want {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
