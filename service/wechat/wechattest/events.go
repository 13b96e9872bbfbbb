package wechattest

import (
	"fmt"
	"time"
)

// The XML WeChat pushes to the official account's callback for events, field for field as its
// documentation shows them (接收事件推送). Note what is absent: the subscribe and unsubscribe
// pushes carry no UnionId; a unionid comes only from user/info or user/info/batchget.

// SubscribeXML is the push for a user who follows the account: ToUserName, FromUserName (the
// openid), CreateTime, MsgType event, Event subscribe and an empty EventKey.
func SubscribeXML(openID string, at time.Time) string {
	return eventXML(openID, at, "subscribe", "<EventKey><![CDATA[]]></EventKey>")
}

// UnsubscribeXML is the push for a user who stops following.
func UnsubscribeXML(openID string, at time.Time) string {
	return eventXML(openID, at, "unsubscribe", "<EventKey><![CDATA[]]></EventKey>")
}

// Statuses of the TEMPLATESENDJOBFINISH push, as WeChat writes them.
const (
	TemplateSuccess      = "success"
	TemplateUserBlock    = "failed:user block"
	TemplateSystemFailed = "failed: system failed"
)

// TemplateFinishedXML is the push WeChat sends when a template message was delivered or not:
// Event TEMPLATESENDJOBFINISH with the msgid of the send (MsgID, capital D) and its Status.
func TemplateFinishedXML(openID string, msgID int64, status string, at time.Time) string {
	return eventXML(openID, at, "TEMPLATESENDJOBFINISH",
		fmt.Sprintf("<MsgID>%d</MsgID><Status><![CDATA[%s]]></Status>", msgID, status))
}

func eventXML(openID string, at time.Time, event, rest string) string {
	return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_huzhu]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"+
		"<CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event>%s</xml>",
		openID, at.Unix(), event, rest)
}
