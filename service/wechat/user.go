package wechat

import (
	"context"
	"fmt"
	"net/url"

	"github.com/silenceper/wechat/v2/officialaccount/user"
	"github.com/silenceper/wechat/v2/util"
)

// API names and paths of the official account's user management (用户管理).
const (
	apiUserInfo      = "user_info"
	apiUserInfoBatch = "user_info_batchget"
	apiUserGet       = "user_get"

	pathUserInfo      = "/cgi-bin/user/info"
	pathUserInfoBatch = "/cgi-bin/user/info/batchget"
	pathUserGet       = "/cgi-bin/user/get"
)

// MaxBatchUserInfo is how many openids one user/info/batchget call takes (WeChat's limit).
const MaxBatchUserInfo = 100

// Follower is what WeChat tells about one official-account user. UnionID is empty unless the
// official account is bound to a WeChat Open Platform (open.weixin.qq.com) account — the same one
// as the mini-program, or the two unionids differ and nothing links. Subscribed is false when the
// user no longer follows the account (WeChat then returns nothing else).
type Follower struct {
	OpenID     string
	UnionID    string
	Subscribed bool
}

// UserInfo returns the follower behind an official-account openid (cgi-bin/user/info). Errors
// are *Error: 40003 (bad openid) UserPermanent, 45009 RateLimited; an invalid token is retried
// once. The call uses the library's response type, made with a context like SendTemplate.
func (c *Client) UserInfo(ctx context.Context, openID string) (Follower, error) {
	a, err := c.oaAccount()
	if err != nil {
		return Follower{}, fmt.Errorf("%s: %w", apiUserInfo, err)
	}
	if openID == "" {
		return Follower{}, &Error{API: apiUserInfo, Msg: "empty openid", kind: BadRequest}
	}
	var out Follower
	err = c.withToken(ctx, a, apiUserInfo, func(tok string) error {
		q := url.Values{"access_token": {tok}, "openid": {openID}, "lang": {"zh_CN"}}
		b, err := util.HTTPGetContext(ctx, DefaultAPIBase+pathUserInfo+"?"+q.Encode())
		if err != nil {
			return err
		}
		var res user.Info
		if err := util.DecodeWithError(b, &res, apiUserInfo); err != nil {
			return err
		}
		out = Follower{OpenID: res.OpenID, UnionID: res.UnionID, Subscribed: res.Subscribe == 1}
		if out.OpenID == "" {
			out.OpenID = openID
		}
		return nil
	})
	return out, err
}

// UserInfoBatch returns the followers behind up to MaxBatchUserInfo openids in one call
// (cgi-bin/user/info/batchget), in WeChat's order. More openids are a BadRequest *Error.
func (c *Client) UserInfoBatch(ctx context.Context, openIDs []string) ([]Follower, error) {
	a, err := c.oaAccount()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", apiUserInfoBatch, err)
	}
	if len(openIDs) == 0 {
		return nil, nil
	}
	if len(openIDs) > MaxBatchUserInfo {
		return nil, &Error{API: apiUserInfoBatch, Msg: fmt.Sprintf("%d openids, at most %d per call", len(openIDs), MaxBatchUserInfo), kind: BadRequest}
	}
	params := user.BatchGetUserInfoParams{UserList: make([]user.BatchGetUserListItem, len(openIDs))}
	for i, id := range openIDs {
		params.UserList[i] = user.BatchGetUserListItem{OpenID: id, Lang: "zh_CN"}
	}
	var out []Follower
	err = c.withToken(ctx, a, apiUserInfoBatch, func(tok string) error {
		var res user.InfoList
		if err := postJSON(ctx, pathUserInfoBatch, tok, params, &res, apiUserInfoBatch); err != nil {
			return err
		}
		out = make([]Follower, 0, len(res.UserInfoList))
		for _, u := range res.UserInfoList {
			out = append(out, Follower{OpenID: u.OpenID, UnionID: u.UnionID, Subscribed: u.Subscribe == 1})
		}
		return nil
	})
	return out, err
}

// FollowerPage is one page of the follower list.
type FollowerPage struct {
	Total   int      // followers of the account
	OpenIDs []string // at most 10,000
	// Next is the next_openid to ask for the following page; "" (or an empty OpenIDs) at the end.
	Next string
}

// Followers returns the page of followers after next ("" for the first) (cgi-bin/user/get, at
// most 10,000 openids a page).
func (c *Client) Followers(ctx context.Context, next string) (FollowerPage, error) {
	a, err := c.oaAccount()
	if err != nil {
		return FollowerPage{}, fmt.Errorf("%s: %w", apiUserGet, err)
	}
	var out FollowerPage
	err = c.withToken(ctx, a, apiUserGet, func(tok string) error {
		q := url.Values{"access_token": {tok}}
		if next != "" {
			q.Set("next_openid", next)
		}
		b, err := util.HTTPGetContext(ctx, DefaultAPIBase+pathUserGet+"?"+q.Encode())
		if err != nil {
			return err
		}
		var res user.OpenidList
		if err := util.DecodeWithError(b, &res, apiUserGet); err != nil {
			return err
		}
		out = FollowerPage{Total: res.Total, OpenIDs: res.Data.OpenIDs, Next: res.NextOpenID}
		return nil
	})
	return out, err
}
