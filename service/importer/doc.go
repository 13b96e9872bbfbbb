// Package importer loads the roster (unions and members) and the 医保 settlement records from
// the files staff upload: CSV (UTF-8 or GBK) or XLSX, with Chinese column headers as staff write
// them (Template makes the XLSX template of each kind).
//
// Rows stream in batches; each batch is one transaction. Every bad row is reported with its row
// number, column and what is wrong, and changes nothing; good rows land. Re-importing a file
// changes nothing: members are keyed by ID number (its HMAC hash), records by the 医保 结算单号.
// A changed member is updated; a changed record is updated while no run has taken it, and
// refused once it is settled (a correction then needs staff).
//
// A file is read within sheet.DefaultLimits (Options.Limits): one beyond a limit is refused with
// an Invalid error (code import.limit) that names it. Text is validated, never repaired: a cell
// with invalid bytes, U+FFFD or a control character (model.CheckText), or a 姓名 that is not a
// person's name (model.PersonName), makes its row a problem.
//
// Personal numbers are validated, encrypted and hashed here (service/pii) and never appear in a
// report or a log: a report names the row, not the number.
package importer
