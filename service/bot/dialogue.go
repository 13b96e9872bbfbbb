package bot

import (
	"regexp"
	"slices"
	"strings"

	"huzhu/model"
	"huzhu/service/eligibility"
)

// The eligibility dialogue is a small state machine over keyword cues (notes/bot-retrieval.md):
// "don't know" beats yes and no, negations beat affirmations, one message may answer several
// questions clause by clause, a reply that is itself a question is answered from the knowledge
// base and the pending question asked again, and numbered replies (1 是 / 2 否 / 3 不清楚) work.

// Slots of the dialogue, named as eligibility's Fact… constants.
const (
	slotInsured    = eligibility.FactInsuredBeijing
	slotEmployment = eligibility.FactEmployment
	slotKind       = eligibility.FactKind
	slotUnion      = eligibility.FactUnionMember
	slotDues       = eligibility.FactEmployerPaysDues
	slotCard       = eligibility.FactHasJingCard
)

// dialogueFacts are the answers so far; the short JSON names keep the stored state small.
type dialogueFacts struct {
	Insured    eligibility.Tri        `json:"i,omitempty"`
	Employment model.EmploymentStatus `json:"e,omitempty"`
	Kind       model.WorkerKind       `json:"k,omitempty"`
	Union      eligibility.Tri        `json:"u,omitempty"`
	Dues       eligibility.Tri        `json:"d,omitempty"`
	Card       eligibility.Tri        `json:"c,omitempty"`
}

func (f dialogueFacts) facts() eligibility.Facts {
	return eligibility.Facts{InsuredBeijing: f.Insured, Employment: f.Employment, Kind: f.Kind,
		UnionMember: f.Union, EmployerPaysDues: f.Dues, HasJingCard: f.Card}
}

// answer is one slot value read from a message: yes or no (tri), an employment status or a
// worker kind; an answer with none of them set means "the worker does not know".
type answer struct {
	slot       string
	tri        eligibility.Tri
	employment model.EmploymentStatus
	kind       model.WorkerKind
}

func (a answer) dontKnow() bool {
	return a.tri == eligibility.Unknown && a.employment == "" && a.kind == ""
}

var (
	reExit      = regexp.MustCompile(`^(退出|算了|不问了|不用了|取消|结束|不测了|exit|quit)$`)
	reRestart   = regexp.MustCompile(`^(重新开始|重来|从头开始|再来一次)$`)
	reNumber    = regexp.MustCompile(`^([1-9])[\s.、,，)）]*(是|否|有|没有|不清楚|不知道|在职|退休|已退休|离职|已离职)?$`)
	reClause    = regexp.MustCompile(`[，,。.；;！!？?、\s]+|但是|不过|可是|而且|并且|另外|然后`)
	reDontKnow  = regexp.MustCompile(`不知道|不清楚|不确定|不晓得|不了解|不太懂|没数|说不好|搞不清|弄不清|忘了|不记得|不懂|不明白|不好说|没注意`)
	reQuestion  = regexp.MustCompile(`[?？]|什么|啥|怎么|咋|哪|为什么|为啥|是不是|能不能|可不可以|吗$|呢$|么$`)
	reNegative  = regexp.MustCompile(`不是|没有|没|不|无|未|非|否|还没|外地|老家|外省`)
	rePositive  = regexp.MustCompile(`是|有|对|嗯|在|交了|交的|参加了|办了|入了|好|行|可以|当然|肯定|yes|ok`)
	reRural     = regexp.MustCompile(`新农合|农合|合作医疗|农村医保`)
	reNotRural  = regexp.MustCompile(`不是|没|非|不`)
	reRetired   = regexp.MustCompile(`退休|退了`)
	reLeft      = regexp.MustCompile(`离职|辞职|不干了|失业|没工作|没上班|没有工作|被辞|下岗`)
	reInService = regexp.MustCompile(`在职|上班|在岗|在单位|上着班|工作着|正式工|合同工`)
	topicDues   = regexp.MustCompile(`经费|会费|上解`)
	topicCard   = regexp.MustCompile(`京卡|互助服务卡|会员卡|工会卡|服务卡`)
	topicIns    = regexp.MustCompile(`医保|医疗保险|社保|参保|新农合|农合|合作医疗`)
	topicEmp    = regexp.MustCompile(`退休|在职|上班|离职|辞职|不干了|失业|在岗`)
	topicUnion  = regexp.MustCompile(`工会|会员|入会`)
)

// question returns what the bot asks for slot, or "" for a slot it does not ask.
func question(slot string) string {
	switch slot {
	case slotInsured:
		return "您在北京参加了基本医疗保险吗？（单位给交的职工医保算；参加新农合的也请告诉我）\n回复 1 是 / 2 否 / 3 不清楚"
	case slotEmployment:
		return "您现在是在职上班，还是已经退休或离职了？\n回复 1 在职 / 2 已退休 / 3 已离职"
	case slotKind:
		return "您参加的是新农合（农村合作医疗）吗？\n回复 1 是 / 2 否 / 3 不清楚"
	case slotUnion:
		return "您是单位工会的会员吗？\n回复 1 是 / 2 否 / 3 不清楚"
	case slotDues:
		return "您单位向市总工会上解（交）工会经费吗？不清楚可以问单位工会。\n回复 1 是 / 2 否 / 3 不清楚"
	case slotCard:
		return "您有京卡·互助服务卡（工会会员的银行联名卡）吗？\n回复 1 有 / 2 没有 / 3 不清楚"
	}
	return ""
}

// numbered reads a numbered reply to the pending slot: 1 yes, 2 no, 3 don't know; for the
// employment question 1 in service, 2 retired, 3 left.
func numbered(slot, text string) (answer, bool) {
	m := reNumber.FindStringSubmatch(strings.TrimSpace(normalize(text)))
	if m == nil {
		return answer{}, false
	}
	a := answer{slot: slot}
	switch {
	case slot == slotEmployment && m[1] == "1":
		a.employment = model.EmploymentInService
	case slot == slotEmployment && m[1] == "2":
		a.employment = model.EmploymentRetired
	case slot == slotEmployment && m[1] == "3":
		a.employment = model.EmploymentLeft
	case slot == slotEmployment:
		return answer{}, false
	case slot == slotKind && m[1] == "1":
		a.kind = model.WorkerRural
	case slot == slotKind && m[1] == "2":
		a.kind = model.WorkerUrban
	case m[1] == "1":
		a.tri = eligibility.Yes
	case m[1] == "2":
		a.tri = eligibility.No
	case m[1] == "3":
	default:
		return answer{}, false
	}
	return a, true
}

// parseAnswers reads the slot answers in text, clause by clause. A clause that names a topic
// (医保, 工会, 京卡…) answers that topic; one that names none answers the pending slot (when
// pending is ""; it answers nothing). Clauses that are questions answer nothing, except when
// stated is true (the question that started the dialogue): then "我退休了能参加吗" still says
// the worker is retired, so that the bot never asks what the worker just said. At most one
// answer per slot is returned, the last one given.
func parseAnswers(text, pending string, stated bool) []answer {
	var out []answer
	for _, c := range reClause.Split(normalize(text), -1) {
		if c == "" {
			continue
		}
		slot := topicOf(c)
		explicit := slot != ""
		if !explicit {
			slot = pending
		}
		if slot == "" {
			continue
		}
		if a, ok := readClause(c, slot, explicit, stated && explicit); ok {
			out = appendAnswer(out, a)
		}
	}
	return out
}

func appendAnswer(out []answer, a answer) []answer {
	for i := range out {
		if out[i].slot == a.slot {
			out[i] = a
			return out
		}
	}
	return append(out, a)
}

// topicOf returns the slot a clause talks about, or "" when it names none. Dues and card are
// checked before the union ("工会经费", "工会卡").
func topicOf(c string) string {
	switch {
	case topicDues.MatchString(c):
		return slotDues
	case topicCard.MatchString(c):
		return slotCard
	case topicIns.MatchString(c):
		return slotInsured
	case topicEmp.MatchString(c):
		return slotEmployment
	case topicUnion.MatchString(c):
		return slotUnion
	}
	return ""
}

// readClause reads one clause as an answer to slot. Cue order: don't-know, question (no
// answer, unless asking is true), then the slot's own words, then negation before affirmation.
// A clause that names its topic (explicit) without a negation affirms it: "北京医保", "单位交会费".
func readClause(c, slot string, explicit, asking bool) (answer, bool) {
	a := answer{slot: slot}
	if reDontKnow.MatchString(c) {
		return a, true
	}
	if isQuestion(c) && !asking {
		return answer{}, false
	}
	switch slot {
	case slotEmployment:
		switch {
		case reRetired.MatchString(c):
			a.employment = model.EmploymentRetired
		case reLeft.MatchString(c):
			a.employment = model.EmploymentLeft
		case reInService.MatchString(c):
			a.employment = model.EmploymentInService
		case reNegative.MatchString(c):
			return answer{}, false // "不是" to a three-way question says nothing
		case rePositive.MatchString(c):
			a.employment = model.EmploymentInService
		default:
			return answer{}, false
		}
		return a, true
	case slotInsured, slotKind:
		if reRural.MatchString(c) {
			// 新农合 is the kind of insurance: "参加的新农合" is rural, "不是新农合" is urban.
			a.slot = slotKind
			a.kind = model.WorkerRural
			if reNotRural.MatchString(reRural.ReplaceAllString(c, "")) {
				a.kind = model.WorkerUrban
			}
			return a, true
		}
	}
	switch {
	case reNegative.MatchString(c):
		a.tri = eligibility.No
	case rePositive.MatchString(c) || explicit:
		a.tri = eligibility.Yes
	default:
		return answer{}, false
	}
	if slot == slotKind {
		a.kind = model.WorkerUrban
		if a.tri == eligibility.Yes {
			a.kind = model.WorkerRural
		}
		a.tri = eligibility.Unknown
	}
	return a, true
}

var (
	reSelf    = regexp.MustCompile(`我|俺|本人|自己`)
	reNotSelf = regexp.MustCompile(`我(爸|妈|家|老婆|老公|爱人|媳妇|孩子|儿子|女儿|父|母|们|同事|朋友|哥|姐|弟|妹)`)
	reCanI    = regexp.MustCompile(`能|可以|符合|够|资格|算不算|行不行|有份|享受|参加|报`)
)

// aboutSelf reports whether text asks about the worker's own case ("我能参加吗",
// "我符合条件吗", "我是农民工 能享受吗") rather than in general ("谁能参加", "新农合能报吗",
// "我爸退休了能用吗"): only then does the bot start the eligibility questions.
func aboutSelf(text string) bool {
	t := reNotSelf.ReplaceAllString(normalize(text), "")
	return reSelf.MatchString(t) && reCanI.MatchString(t)
}

// isQuestion reports whether text asks something rather than answers.
func isQuestion(text string) bool { return reQuestion.MatchString(strings.TrimSpace(text)) }

// dialogueState is one worker's eligibility dialogue.
type dialogueState struct {
	Facts   dialogueFacts `json:"f"`
	Asking  string        `json:"a"`
	Unknown []string      `json:"u,omitempty"` // slots the worker does not know
}

// apply records the answers; a "don't know" marks the slot so that it is not asked again.
func (s *dialogueState) apply(as []answer) {
	for _, a := range as {
		switch a.slot {
		case slotInsured:
			s.Facts.Insured = a.tri
		case slotEmployment:
			s.Facts.Employment = a.employment
		case slotKind:
			s.Facts.Kind = a.kind
		case slotUnion:
			s.Facts.Union = a.tri
		case slotDues:
			s.Facts.Dues = a.tri
		case slotCard:
			s.Facts.Card = a.tri
		}
		if a.dontKnow() && !slices.Contains(s.Unknown, a.slot) {
			s.Unknown = append(s.Unknown, a.slot)
		}
	}
}

// next decides on day: it returns the decision and done when the facts decide it or every
// missing fact is one the worker does not know, and otherwise the slot to ask next.
func (s *dialogueState) next(day model.Date) (d eligibility.Decision, slot string, done bool) {
	d = eligibility.Decide(s.Facts.facts(), day)
	if d.Status != eligibility.StatusUnknown {
		return d, "", true
	}
	for _, m := range d.Missing {
		if !slices.Contains(s.Unknown, m) && question(m) != "" {
			return d, m, false
		}
	}
	return d, "", true
}

// verdict writes the decision for the worker, with what to do next.
func verdict(d eligibility.Decision) string {
	var b strings.Builder
	switch d.Status {
	case eligibility.StatusEligible:
		b.WriteString("根据您说的情况：您可以享受在职职工医疗互助保障（二次报销）。\n")
	case eligibility.StatusNeedsAction:
		b.WriteString("根据您说的情况：您符合参加条件，还差一步。\n")
	case eligibility.StatusNotEligible:
		b.WriteString("根据您说的情况：您暂时不能免费参加。\n")
	default:
		b.WriteString("根据您说的情况，还不能确定。\n")
	}
	for _, r := range d.Reasons {
		b.WriteString("· " + r.Message + r.Action + "\n")
	}
	b.WriteString("这是按您的回答做的初步判断，以单位工会和市总工会的核定为准；有疑问请拨打" + Hotline + "。")
	return b.String()
}
