package fakewechat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"

	"huzhu/service/wechat"
	"huzhu/service/wechat/fakewechat"
)

func start(t *testing.T, o fakewechat.Options) (*fakewechat.Fake, *wechat.Client) {
	t.Helper()
	f := fakewechat.New(o)
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	prev := util.DefaultHTTPClient
	t.Cleanup(func() { util.DefaultHTTPClient = prev })
	wx, err := wechat.New(f.Options(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, wx
}

// TestDemoMode: in Demo mode any login code is a new user, every time, and "phone-<number>"
// is that verified number; outside it both are refused as WeChat refuses unknown codes.
func TestDemoMode(t *testing.T) {
	ctx := context.Background()
	_, wx := start(t, fakewechat.Options{Demo: true})
	a, err := wx.Code2Session(ctx, "demo")
	if err != nil {
		t.Fatalf("Code2Session(demo) = %v", err)
	}
	b, err := wx.Code2Session(ctx, "demo")
	if err != nil || a.OpenID == "" || a.OpenID == b.OpenID {
		t.Errorf("two logins with code demo = %q, %q (%v), want two fresh users", a.OpenID, b.OpenID, err)
	}
	p, err := wx.PhoneNumber(ctx, "phone-10020000000")
	if err != nil || p.Pure != "10020000000" {
		t.Errorf("PhoneNumber(phone-10020000000) = %+v, %v", p, err)
	}

	_, strict := start(t, fakewechat.Options{})
	if _, err := strict.Code2Session(ctx, "demo"); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("outside Demo, Code2Session(demo) = %v, want BadRequest", err)
	}
	if _, err := strict.PhoneNumber(ctx, "phone-10020000000"); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("outside Demo, PhoneNumber(phone-…) = %v, want BadRequest", err)
	}
}

// TestSentListsMessagesNewestFirst: the console's list shows each template and subscribe
// message with its fields and WeChat's verdict, newest first, and nothing else.
func TestSentListsMessagesNewestFirst(t *testing.T) {
	ctx := context.Background()
	f, wx := start(t, fakewechat.Options{Demo: true, MaxRequests: 10})
	if _, err := wx.SendTemplate(ctx, wechat.TemplateMessage{ToUser: "oa-1", TemplateID: "t-oa", Data: map[string]string{"amount": "100.00元"}}); err != nil {
		t.Fatal(err)
	}
	f.FailNext(fakewechat.PathSubscribeSend, 43101, 1)
	_ = wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: "mp-1", TemplateID: "t-mp", Page: "pages/payouts/index", Data: map[string]string{"thing1": "到账"}})
	got := f.Sent(10)
	if len(got) != 2 {
		t.Fatalf("Sent = %+v, want 2 messages", got)
	}
	if got[0].Channel != "小程序订阅消息" || !strings.Contains(got[0].Result, "43101") || got[0].Link != "pages/payouts/index" {
		t.Errorf("newest = %+v, want the refused subscribe message", got[0])
	}
	if got[1].Channel != "公众号模板消息" || got[1].Result != "已送达" || len(got[1].Fields) != 1 || got[1].Fields[0].Value != "100.00元" {
		t.Errorf("oldest = %+v, want the delivered template message", got[1])
	}
	for range 20 {
		_, _ = wx.Code2Session(ctx, "x")
	}
	if n := len(f.Requests("")); n > 10 {
		t.Errorf("with MaxRequests 10 the fake keeps %d requests", n)
	}
}
