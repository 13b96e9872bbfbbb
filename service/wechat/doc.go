// Package wechat is huzhu's adapter over github.com/silenceper/wechat/v2 (v2.1.10): the one
// place that builds the official-account (公众号) and mini-program (小程序) clients, once, at
// start.
//
// What it adds to the library, and why (see docs/wechat-library.md):
//
//   - It imports the officialaccount and miniprogram packages, never the root package, whose
//     init() turns on debug logging of decrypted user messages.
//   - Access tokens are stable tokens (/cgi-bin/stable_token), cached in Redis (go-redis v9,
//     shared by every instance) or in a locked in-process map; never the library's cache.Memory,
//     which crashes under concurrency.
//   - When WeChat rejects a token (40001, 42001, 40014) the cached token is dropped and the call
//     retried once; the library itself keeps using a dead token until it expires.
//   - Every failure is an *Error with WeChat's errcode and a Kind (TokenInvalid, RateLimited,
//     Transient, UserPermanent, BadRequest, Misconfigured, Other); Classify reads any form the
//     library returns. Error text never holds secret=, access_token= or js_code= values.
//   - Template, subscribe and menu calls are made here with util.PostJSONContext, so they take a
//     context, return typed errors and pass client_msg_id.
//   - One HTTP client with a timeout, and Options.APIBase to send every call elsewhere (tests,
//     fakes, egress proxies). The library has no per-client HTTP setting: New sets the
//     process-global util.DefaultHTTPClient, so build one Client per process.
//
// The fields.go helpers keep message values inside WeChat's per-type limits. Package wechattest
// is a fake WeChat server for tests of this package and of its users.
package wechat
