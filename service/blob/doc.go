// Package blob keeps files of personal data: a Store holds opaque objects under keys (a
// directory by default, S3-compatible object storage in production), and Sealer/Opener encrypt a
// stream in chunks with AES-256-GCM, so a file is never whole in memory and a store only ever
// sees ciphertext. Key management (one data key per file, sealed by the personal-data key) is the
// caller's.
package blob
