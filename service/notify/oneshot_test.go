package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/store/storetest"
)

// TestSubscriptionUsedOncePerSend: one acceptance of a subscribe template carries one message
// (WeChat's one-shot rule), so the second notice goes by SMS instead of failing with 43101.
func TestSubscriptionUsedOncePerSend(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	sub, sms := &fakeSubscribe{}, &fakeSMS{}
	d := New(db, Senders{Subscribe: sub, SMS: sms, Phones: c}, Options{Templates: testTemplates}, newClock(t0).Now, quietLog())
	id := mustMember(t, db, c, 1, person{subscribed: true, phone: "13800001234"})
	for i := range 2 {
		mustEnqueue(t, db, id, uint64(10+i), model.NoticeArrived, t0)
		for range 3 {
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := len(sub.msgs); got != 1 {
		t.Errorf("%d subscribe messages, want 1 (one acceptance, one message)", got)
	}
	if got := len(sms.sent()); got != 1 {
		t.Errorf("%d SMS, want 1 for the second notice", got)
	}
	var a model.WeChatAccount
	if err := db.Where("member_id = ?", id).Take(&a).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.Subscriptions, "mp-arr") || !strings.Contains(a.Subscriptions, "mp-apr") {
		t.Errorf("subscriptions after one arrival notice = %q, want mp-arr used and the others kept", a.Subscriptions)
	}
}

// TestPastPromiseNotSent: an approval notice sent after its promised date (seen: "预计5月6日前
// 到账" on 7 December) says the money is late and where to ask instead.
func TestPastPromiseNotSent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		today   time.Time
		promise bool
	}{
		{"before the date", time.Date(2025, 5, 6, 10, 0, 0, 0, model.Shanghai), true},
		{"after the date", time.Date(2025, 12, 7, 10, 0, 0, 0, model.Shanghai), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.NewDB(t)
			c := testCipher(t)
			tmpl, sms := &fakeTemplate{}, &fakeSMS{}
			d := New(db, Senders{Template: tmpl, SMS: sms, Phones: c}, Options{Templates: testTemplates}, newClock(tc.today).Now, quietLog())
			a := mustMember(t, db, c, 1, person{follows: true})
			b := mustMember(t, db, c, 2, person{phone: "13800001234"})
			for _, m := range []uint64{a, b} {
				if _, err := Enqueue(context.Background(), db, Notice{Subject: RunSubject(5, m), MemberID: m, Kind: model.NoticeApproved,
					Payload: Payload{AmountFen: 20065300, Period: "2025-Q1", ClaimTypes: "门诊", ExpectedBy: "2025-05-06"}, At: tc.today}); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				if _, err := d.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if len(tmpl.sent()) != 1 || len(sms.sent()) != 1 {
				t.Fatalf("sent %d template messages and %d SMS, want 1 and 1", len(tmpl.sent()), len(sms.sent()))
			}
			texts := []string{sms.sent()[0].text}
			for _, v := range tmpl.sent()[0].Data {
				texts = append(texts, v)
			}
			all := strings.Join(texts, " | ")
			if got := strings.Contains(all, "预计"); got != tc.promise {
				t.Errorf("texts %q promise a date: %v, want %v", all, got, tc.promise)
			}
			if !tc.promise && (!strings.Contains(all, "12351") || !strings.Contains(sms.sent()[0].text, "工会")) {
				t.Errorf("late notice %q does not say where to ask (union, 12351)", all)
			}
		})
	}
}
