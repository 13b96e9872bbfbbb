package bot

import (
	"strings"
	"unicode/utf8"
)

// Whose money a question asks about. The personal entries (kind personal: my_arrival,
// my_next…) answer from the asker's own payout lines, and their general twins (when_paid,
// sms, cap…) share most of their words: "下次什么时候到账" and "什么时候到账" differ by one
// word. So the ranking reads the question's cues of whose case it is:
//
//   - own: the asker speaks of their own money (我的, 给我, 我今年), of "the next" or "that"
//     payment (下次, 下回, 那笔), or asks what has happened (到了吗, 打了没, 报了多少): a
//     payment that has or has not arrived is always somebody's;
//   - self: the asker speaks of themselves, but not of their money (我能报吗, 我住院没给报):
//     as likely a question about the plan as about their lines, so the rank is left alone;
//   - others: the asker names someone else (同事, 工友, 别人的): a personal entry keeps its
//     rank, and when it wins the bot declines, as it never answers someone else's money from
//     data ("同事说能报一半" still finds the general entry);
//   - general: neither.
const (
	whoseGeneral = iota
	whoseOwn
	whoseSelf
	whoseOthers
)

var (
	ownCues = []string{"我的", "俺的", "给我", "我今年", "我还", "我这笔", "我那笔", "下次", "下回", "下一次", "下一回", "下一笔", "下笔", "那笔", "这笔",
		"还能报多少", "还可以报多少", "还剩", "剩多少", "还有多少额度"}
	// stateCues ask what has happened to a payment, which is always somebody's.
	stateCues = []string{"报了多少", "报了几", "拿了多少", "领了多少", "发了多少", "给了多少", "到了吗", "到了没", "到账了", "到账没", "到帐了", "到帐没",
		"打了没", "发了没", "来了没", "到没到"}
	selfCues   = []string{"我", "俺", "自己", "本人"}
	othersCues = []string{"同事", "工友", "别人", "朋友", "他的", "她的", "张三", "李四", "家属的", "老婆的", "老公的", "媳妇的", "爱人的",
		"我爸", "我妈", "我父亲", "我母亲", "孩子的", "儿子的", "女儿的", "帮他", "帮她", "替他", "替她", "给他查", "给她查", "他身份证", "她身份证",
		"班组", "我们班", "大家的", "所有人", "每个人的", "个人的报销"}
	// whetherCues ask whether the plan covers someone (能不能报, 能参加吗); with no amountCues
	// (多少, 几) such a question is about the plan, not the asker's payout lines.
	whetherCues = []string{"能不能报", "能报吗", "能报不", "可以报吗", "能不能参加", "能参加", "可以参加", "能享受", "有没有份", "有资格", "符合"}
	amountCues  = []string{"多少", "几"}
	// lookupCues ask the bot to look a payment up: for someone else, never done.
	lookupCues = []string{"帮我查", "给我查", "查一下", "查下", "查查", "查询"}
)

// personalBoost is how much the cues move a personal entry's rank: up for the asker's own
// case, down for a general question (neither for self or others).
const personalBoost = 0.15

// whose returns the cue of q (normalized or prepared by the analyzer) about whose case it asks.
func whose(q string) int {
	if othersIn(q) {
		return whoseOthers
	}
	if asksState(q) || containsAny(q, ownCues) {
		return whoseOwn
	}
	if containsAny(q, whetherCues) && !containsAny(q, amountCues) {
		return whoseGeneral // 我能不能报: whether the plan covers the asker, not their lines
	}
	if containsAny(q, selfCues) {
		return whoseSelf
	}
	return whoseGeneral
}

// asksState reports whether q asks what has happened to a payment (到了没, 报了多少) or asks for
// one to be looked up (帮我查).
func asksState(q string) bool { return containsAny(q, stateCues) || containsAny(q, lookupCues) }

// othersIn reports whether q names someone else (q normalized, before the lexicon rewrites
// 老婆 to 家属, or prepared) other than as the source of what the asker heard (同事说…).
func othersIn(q string) bool {
	for _, c := range othersCues {
		for rest := q; ; {
			i := strings.Index(rest, c)
			if i < 0 {
				break
			}
			rest = rest[i+len(c):]
			if !hearsay(rest) {
				return true
			}
		}
	}
	return false
}

// hearsayCues follow a person the asker only heard something from: 同事说, 工友告诉我.
var hearsayCues = []string{"说", "讲", "告诉", "介绍", "让", "跟我", "提醒"}

func hearsay(after string) bool {
	for _, h := range hearsayCues {
		if strings.HasPrefix(after, h) {
			return true
		}
	}
	return false
}

func containsAny(q string, cues []string) bool {
	for _, c := range cues {
		if strings.Contains(q, c) {
			return true
		}
	}
	return false
}

// wordSet finds any of a set of words in a text in one pass over the text (the off-topic list
// has hundreds of words; looking for each in turn cost more than the retrieval).
type wordSet map[rune][]string // first rune → the words starting with it

func newWordSet(words []string) wordSet {
	ws := wordSet{}
	for _, w := range words {
		if w == "" {
			continue
		}
		r, _ := utf8.DecodeRuneInString(w)
		ws[r] = append(ws[r], w)
	}
	return ws
}

// in reports whether s contains one of the words.
func (ws wordSet) in(s string) bool {
	for i, r := range s {
		for _, w := range ws[r] {
			if strings.HasPrefix(s[i:], w) {
				return true
			}
		}
	}
	return false
}

// found returns the words s contains.
func (ws wordSet) found(s string) map[string]bool {
	out := map[string]bool{}
	for i, r := range s {
		for _, w := range ws[r] {
			if strings.HasPrefix(s[i:], w) {
				out[w] = true
			}
		}
	}
	return out
}
