// Package claim handles supplementary claims: bills the 医保 feed never carries (异地急诊 paid in
// cash, above-cap documents), which a worker submits in the mini-program with photos or PDFs of
// the documents, the grassroots union reviews, and 办事处 confirms. A confirmed claim becomes a
// medical record of source application and is settled like any other; a claim and a feed record
// of the same bill are never both paid (see model.SameBill and service/settlement).
//
// Documents are personal data: checked by content (JPEG, PNG, PDF), stripped of photo metadata,
// sealed in chunks under a key of their own (itself sealed with the personal-data key) before
// they reach the document store, streamed both ways, shown only to the claim's worker, its
// union, 办事处 and 市总, and deleted Options.KeepDocs after the claim ends.
package claim
