// Package model holds huzhu's domain values (Fen, BP, enums with their allowed transitions) and the
// GORM models of every table, plus the versioned migrations that create them.
//
// Personal numbers are never stored in clear: each has an encrypted column (AES-GCM, see
// service/pii), an HMAC lookup hash for equality search, and the last four characters for masked
// display (尾号).
package model
