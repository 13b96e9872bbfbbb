package rulebook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/policy"
	"huzhu/service/staff"
)

// maxVersionBody bounds the YAML of one version (the shipped ones are about 2 KB).
const maxVersionBody = 32 << 10

// draftHeader opens the text the console offers for a new version.
const draftHeader = `# 新的政策版本：按最新版本预先填好，请改成新政策的内容后保存。
# - code（版本代码）要和已有版本不同；effective_from（开始日期）要晚于今天，也要晚于最新版本的开始日期。
# - 每个数字都要写 source（出处）："seed: 文件名或报道「原文」"，或者 assumed（文件没有给出，先按假设填写）。
# - 金额写成带引号的“元”，例如 "200653.00"；比例写成带引号的百分数，例如 "50%"。
`

// DraftVersion returns the YAML the console offers for a new version: the newest version's
// figures under a new code and name, starting on the first day of the month after today (or
// after the newest version's start, if later), the start marked assumed.
func (s *Service) DraftVersion() (string, error) {
	vs := s.engine.Versions()
	v := vs[len(vs)-1]
	from := s.today()
	if v.EffectiveFrom > from {
		from = v.EffectiveFrom
	}
	t := from.Time()
	start := model.DateOf(t.AddDate(0, 1, 1-t.Day()))
	code := start.Time().Format("2006-01")
	for slices.ContainsFunc(vs, func(o policy.Version) bool { return o.Code == code }) {
		code += "b"
	}
	v.Code, v.EffectiveFrom, v.Note = code, start, ""
	v.Name = "在职职工医疗互助保障计划 " + code + " 起（请改成新政策的名称）"
	v.Sources["effective_from"] = policy.SourceAssumed
	b, err := policy.MarshalVersion(v)
	if err != nil {
		return "", fmt.Errorf("draft policy version: %w", err)
	}
	return draftHeader + string(b), nil
}

// AddVersion adds the policy version written in body (YAML, one item of the policy file's
// versions list) and swaps it into the running engine and knowledge base. The version is read by
// policy.ParseVersion and must then pass policy.Engine.Extend against the versions in the
// database (start after today and after every version, an unused code) and leave every answer of
// the knowledge base valid. Errors are Invalid with Field "body", "code" or "effective_from" and
// the problems in the message (policy.bad_version, policy.code_taken, policy.not_future,
// faq.invalid), or Forbidden unless st may staff.EditPolicy. body is stored as written.
func (s *Service) AddVersion(ctx context.Context, st model.Actor, body string) (policy.Version, error) {
	if err := need(st, staff.EditPolicy); err != nil {
		return policy.Version{}, err
	}
	body = strings.ReplaceAll(body, "\r\n", "\n")
	switch {
	case strings.TrimSpace(body) == "":
		return policy.Version{}, errs.Invalid("body", "政策版本的内容是空的", "请在预先填好的内容上修改后保存")
	case len(body) > maxVersionBody:
		return policy.Version{}, errs.Invalidf("body", "请只写一个版本", "内容太长了（最多 %d KB）", maxVersionBody>>10)
	}
	v, err := policy.ParseVersion([]byte(body))
	if err != nil {
		return policy.Version{}, &errs.Error{Kind: errs.KindInvalid, Code: "policy.bad_version", Field: "body",
			Message: "政策版本有误，没有保存：\n" + err.Error(),
			Fix:     "按提示逐项改正（每项写明了字段和示例），再保存"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := LoadEngine(ctx, s.db, s.shipped.Policy)
	if err != nil {
		return policy.Version{}, err
	}
	next, err := cur.Extend(v, s.today())
	if err != nil {
		return policy.Version{}, err
	}
	faq, err := loadFAQ(ctx, s.db, s.shipped.FAQ)
	if err != nil {
		return policy.Version{}, err
	}
	kb, err := s.kb.Rebuild(faq.merged, next.Versions())
	if err != nil {
		var msgs []string
		for _, p := range bot.Problems(err) {
			msgs = append(msgs, "条目 "+p.Entry+"："+p.Message)
		}
		if len(msgs) == 0 {
			return policy.Version{}, fmt.Errorf("check knowledge base under policy %s: %w", v.Code, err)
		}
		return policy.Version{}, &errs.Error{Kind: errs.KindInvalid, Code: "faq.invalid", Field: "body",
			Message: "按这个版本填好数字后，问答机器人有回答不合格，没有保存：" + strings.Join(msgs, "；"),
			Fix:     "请核对版本里的数字；如果数字没错，请先在“问答”里缩短这些回答"}
	}
	var assumed []string
	for _, k := range policy.SourceKeys(v) {
		if v.Sources[k] == policy.SourceAssumed {
			assumed = append(assumed, k)
		}
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := model.PolicyVersion{Code: v.Code, EffectiveFrom: v.EffectiveFrom, Body: body, CreatedBy: st.Username, CreatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		e := audit.By(st)
		e.Action, e.Target = "policy.add", "policy:"+v.Code
		e.Detail = map[string]any{"code": v.Code, "name": v.Name, "effective_from": v.EffectiveFrom, "annual_cap_fen": v.AnnualCapFen,
			"assumed": assumed}
		return audit.Write(ctx, tx, now, e)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return policy.Version{}, errs.New(errs.KindConflict, "policy.code_taken", "版本代码“"+v.Code+"”刚被别人用了，没有保存").
			WithFix("请刷新页面，换一个版本代码")
	}
	if err != nil {
		return policy.Version{}, fmt.Errorf("add policy version %s: %w", v.Code, err)
	}
	s.engine.Swap(next)
	s.kb.Swap(kb)
	s.log.Info("rulebook: policy version added", "code", v.Code, "effective_from", v.EffectiveFrom, "by", st.Username)
	return v, nil
}
