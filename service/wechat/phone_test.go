package wechat_test

import (
	"context"
	"strings"
	"testing"

	"huzhu/service/wechat"
	"huzhu/service/wechat/wechattest"
)

// TestPhoneNumber: the phone-number code is exchanged once with the mini-program's token; a used
// code, another app's watermark and a revoked token are handled as WeChat's documents say.
func TestPhoneNumber(t *testing.T) {
	fake := wechattest.New(t)
	wx := fake.Client(t)
	ctx := context.Background()
	fake.PhoneNumberFor("pc-1", "13800001234")
	p, err := wx.PhoneNumber(ctx, "pc-1")
	if err != nil || p.Pure != "13800001234" || p.CountryCode != "86" {
		t.Fatalf("PhoneNumber = %+v, %v", p, err)
	}
	reqs := fake.Requests(wechattest.PathPhoneNumber)
	if len(reqs) != 1 || reqs[0].Method != "POST" || !strings.Contains(reqs[0].AccessToken(), wechattest.MPAppID) || string(reqs[0].Body) != `{"code":"pc-1"}` {
		t.Errorf("requests = %+v, want one POST {code} with the mini-program's token", reqs)
	}
	if _, err := wx.PhoneNumber(ctx, "pc-1"); wechat.Classify(err) != wechat.BadRequest {
		t.Errorf("used code = %v, want BadRequest", err)
	} else if strings.Contains(err.Error(), "pc-1") {
		t.Errorf("error %q holds the code", err)
	}
	fake.PhoneNumberFor("pc-2", "13800001234")
	fake.PhoneWatermark("wxsomeoneelse0000")
	if _, err := wx.PhoneNumber(ctx, "pc-2"); wechat.Classify(err) != wechat.BadRequest || !strings.Contains(err.Error(), "watermark") {
		t.Errorf("another app's watermark = %v, want BadRequest about the watermark", err)
	}
	fake.PhoneWatermark("")
	fake.RevokeTokens()
	fake.PhoneNumberFor("pc-3", "13900005678")
	if p, err := wx.PhoneNumber(ctx, "pc-3"); err != nil || p.Pure != "13900005678" {
		t.Errorf("after the token was revoked = %+v, %v, want a retry with a new token", p, err)
	}
	fake.FailNext(wechattest.PathPhoneNumber, 45011, 1)
	fake.PhoneNumberFor("pc-4", "13900005678")
	if _, err := wx.PhoneNumber(ctx, "pc-4"); wechat.Classify(err) != wechat.RateLimited {
		t.Errorf("45011 = %v, want RateLimited", err)
	}
	noMP := fake.Client(t, func(o *wechat.Options) { o.MP = wechat.MiniProgram{} })
	if _, err := noMP.PhoneNumber(ctx, "x"); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("without a mini-program = %v, want ErrNotConfigured", err)
	}
}
