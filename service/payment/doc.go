// Package payment pays approved settlement runs through the banks and accounts for every fen.
//
// Export turns a run's approved lines into one transfer per member and one CSV file per paying
// bank: 京卡 holders are paid through the card's issuing bank (北京银行, assumed: the seeds do
// not name it), members without a 京卡 after three months to their registered card of one of
// the five banks. Account numbers are decrypted only into the file. Members with no account yet
// keep their lines approved until one is registered. The files are written by sheet.Writer; the
// bank needs 户名 and the account exactly, so a member whose name could open in a spreadsheet as
// a formula is held (Export.Held) with their lines approved until the roster is corrected, and
// Rebuild refuses such a file.
//
// ImportResult reads a bank's result file (CSV, UTF-8 or GBK): each row names our transfer
// reference and 成功 or 失败. An arrived transfer marks its lines 已到账 and queues the arrival
// notice in the same transaction; a failed one marks them 失败 and queues the failure notice.
// Bad rows are reported with their row number and good rows land; importing the same file again
// changes nothing. Reissue puts a failed transfer's lines back in line for the next Export.
//
// Reconcile checks a run to the fen: computed = arrived + failed + in transfer + waiting, every
// transfer equals the sum of its lines, and lines and transfers agree per status.
package payment
