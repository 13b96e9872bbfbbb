package bot

import "testing"

// TestDevV3 measures retrieval on testdata/bot/dev_v3.yaml, the third development set (320
// questions, 60 of them hard declines), TestDevV4 on dev_v4.yaml (300 questions in voices the
// others had little of: older workers, couriers, relatives typing for a patient) and TestDevV5 on
// dev_v5.yaml (300, with 60 declines on 60 different themes), each by a hand that never saw the
// FAQ or the other sets. Their first figures, taken before any tuning for them,
// are in the README; the team tunes on them since, by general means (phrasings in new words,
// lexicon, off-topic words, ranking), never by copying their sentences into the knowledge base.
func TestDevV3(t *testing.T) {
	devSet(t, "dev_v3.yaml", 300, devV3Top1Floor, devV3DeclineFloor, []string{"报多少比例", "我要找真人", "怎么绑定"})
}

func TestDevV4(t *testing.T) {
	devSet(t, "dev_v4.yaml", 300, devV4Top1Floor, devV4DeclineFloor, devV4SharedWithFAQ)
}

func TestDevV5(t *testing.T) {
	devSet(t, "dev_v5.yaml", 300, devV5Top1Floor, devV5DeclineFloor, devV5SharedWithFAQ)
}

// devV3 and devV4SharedWithFAQ are their questions that were already the knowledge base's
// questions or phrasings when the sets came in (short everyday ones, written alike on their own).
var devV4SharedWithFAQ = []string{"没入会能报不", "换单位了", "灵活就叶", "多久到账", "怎么办京卡", "下一次发钱是哪天",
	"我的补充申请到哪一步了", "怎么绑定", "工伤怎么认定"}

// devV5SharedWithFAQ: its writer took 16 questions word for word from the topic list's
// standard questions (or wrote them alike); they are easy, so v5's figures run a little high.
var devV5SharedWithFAQ = []string{"家属能用吗", "怎么缴费参保", "自付一是什么", "多久到账", "到账短信是真的吗", "补充申请咋弄",
	"我的钱到了吗", "今年报了多少", "还能报多少", "我的补充申请到哪一步了", "怎么绑定", "怎么参加医保", "工伤怎么认定",
	"生育保险怎么报", "生育津贴咋领", "商业保险能同时报吗"}

// Floors of the dev sets, a little below the figures at the commit that set them (v3: 91.5% and
// 100%; v4: 88.8% and 100%; v5: 92.1% and 100%; before any tuning for them 83.5%/73.3%,
// 87.9%/91.7% and 92.9%/91.7%).
const (
	devV3Top1Floor    = 89.0
	devV3DeclineFloor = 95.0
	devV4Top1Floor    = 86.0
	devV4DeclineFloor = 95.0
	devV5Top1Floor    = 90.0
	devV5DeclineFloor = 95.0
)
