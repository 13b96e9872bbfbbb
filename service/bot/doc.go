// Package bot is the official-account assistant: it answers workers' Chinese questions about the
// medical mutual-aid plan from a knowledge base (config/faq.yaml), runs a short eligibility
// dialogue, and answers bound workers' personal questions from their own payout lines.
//
// Retrieval follows the measured findings in docs/bot-retrieval.md: BM25F over single
// CJK characters (digit and ASCII runs whole) on two fields, the question with its similar
// phrasings at weight 1.0 and the answer at 0.5, and a confidence that is the share of the
// query's IDF weight the best entry covers. Before that, a question is read the way workers type
// (lexicon.go): homophone slips are corrected by their fuzzy pinyin to a phrase the knowledge
// base uses ("保销" → "报销", "农名工" → "农民工"), the lexicon of faq.yaml rewrites spoken words
// to the knowledge base's own ("封顶线" → "年度最高", "老家医保" → "外地参保"), and lexicon terms
// and domain words add whole-word terms. Results rank by confidence plus half the score share;
// the best entry is answered at the Answer threshold, or below it when it clearly leads the
// second (for a long story, whose words mostly tell what happened, at a lower confidence
// still), and a "您是不是想问" menu is shown only when the two are close. The question's cues of
// whose money it is about (intent.go) move the personal entries up for the asker's own
// payments and down for general questions, and decline someone else's; a word of a topic the
// plan does not answer (faq.yaml's offtopic: 落户, 加班费, 挂号…) declines. A pinned table of exact texts (menu numbers, 人工,
// 电话, greetings) is checked first. Below the confidence threshold the bot says it is not sure,
// offers the closest questions and the 12351 hotline, and never makes an answer up.
//
// Answers cite the plan's figures through placeholders ({cap}, {bonus}, {ratio_outpatient}…)
// filled from the policy version in force on the day of the question, so a policy change
// changes the answers without editing the knowledge base.
//
// Staff edit the knowledge base in the console (service/rulebook keeps the edits): a Source is
// the shipped file with the edits laid over it (Override, stored per entry), and Build checks it
// exactly as the shipped file is checked. A KB is shared by the bot and the console of a process;
// an edit is swapped in whole (KB.Swap), and the bot answers each message from one Snapshot, so an
// answer never mixes two versions of the knowledge base.
//
// The retrieval and dialogue code (text.go, index.go, faq.go, override.go, dialogue.go) is pure.
// Bot adds the state kept in the kv store (conversations, de-duplication of WeChat's retries) and
// the database reads of store.go.
package bot
