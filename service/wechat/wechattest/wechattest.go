// Package wechattest is a fake WeChat API server for tests (package fakewechat, started for one
// test): stable and classic access tokens, mini-program login and phone number, template
// messages (with client_msg_id de-duplication), subscribe messages, the menu, and the follower
// list and user information; plus the XML of the events WeChat pushes to the callback
// (events.go). It records every request and can fail, slow down or drop chosen calls.
//
//	fake := wechattest.New(t)
//	wx := fake.Client(t)                    // a *wechat.Client pointed at the fake
//	fake.FailNext(wechattest.PathTemplateSend, 43004, 1)
//	_, err := wx.SendTemplate(ctx, msg)     // wechat.Classify(err) == wechat.UserPermanent
//	reqs := fake.Requests(wechattest.PathTemplateSend)
//
// wechat.New points the process-global util.DefaultHTTPClient at the fake, so tests of one
// package that use different fakes must not run in parallel (t.Parallel) with each other.
package wechattest

import (
	"testing"

	"github.com/silenceper/wechat/v2/util"

	"huzhu/service/wechat"
	"huzhu/service/wechat/fakewechat"
)

// Paths the fake serves.
const (
	PathStableToken   = fakewechat.PathStableToken
	PathToken         = fakewechat.PathToken
	PathCode2Session  = fakewechat.PathCode2Session
	PathTemplateSend  = fakewechat.PathTemplateSend
	PathSubscribeSend = fakewechat.PathSubscribeSend
	PathMenuCreate    = fakewechat.PathMenuCreate
	PathPhoneNumber   = fakewechat.PathPhoneNumber
	PathUserInfo      = fakewechat.PathUserInfo
	PathUserInfoBatch = fakewechat.PathUserInfoBatch
	PathUserGet       = fakewechat.PathUserGet
)

// Credentials the fake accepts; Options uses them. Any other AppID gets 40013, a wrong secret
// 40125, as WeChat answers.
const (
	OAAppID          = fakewechat.OAAppID
	OASecret         = fakewechat.OASecret
	OAToken          = fakewechat.OAToken
	OAEncodingAESKey = fakewechat.OAEncodingAESKey
	MPAppID          = fakewechat.MPAppID
	MPSecret         = fakewechat.MPSecret
)

// PhoneCodeTTL is how long a phone-number code stays valid, as WeChat documents.
const PhoneCodeTTL = fakewechat.PhoneCodeTTL

// Request is one request the fake received.
type Request = fakewechat.Request

// Message is the decoded body of a template or subscribe message, for assertions.
type Message = fakewechat.Message

// Fake is the fake WeChat server. Its methods are safe for concurrent use.
type Fake struct {
	*fakewechat.Fake
}

// New starts a fake on loopback for t and stops it when t ends.
func New(t testing.TB) *Fake {
	t.Helper()
	f := fakewechat.New(fakewechat.Options{})
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start fake WeChat: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return &Fake{f}
}

// Client builds a *wechat.Client from Options (after edit, when not nil, changes them) and
// restores util.DefaultHTTPClient when t ends.
func (f *Fake) Client(t testing.TB, edit ...func(*wechat.Options)) *wechat.Client {
	t.Helper()
	opts := f.Options()
	for _, e := range edit {
		e(&opts)
	}
	prev := util.DefaultHTTPClient
	c, err := wechat.New(opts, nil)
	if err != nil {
		t.Fatalf("wechat.New(fake options): %v", err)
	}
	t.Cleanup(func() { util.DefaultHTTPClient = prev })
	return c
}

// Messages decodes the template or subscribe messages sent to path, oldest first. Requests that
// WeChat answered with an error are included: filter on your side if needed.
func (f *Fake) Messages(t testing.TB, path string) []Message {
	t.Helper()
	out, err := f.Fake.Messages(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// DedupWindow is how long WeChat drops a template message that repeats the openid and
// client_msg_id of one already sent (see fakewechat.DedupWindow).
const DedupWindow = fakewechat.DedupWindow
