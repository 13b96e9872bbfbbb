// Package demo fills an empty database with a believable synthetic plan: grassroots unions, a
// roster of members, two years of 医保 records and the settlement runs of every period that is
// already due, computed, approved and paid through the real settlement and payment services
// (the banks' result files are synthetic: every transfer arrives on its promised date), so that a
// newcomer sees a live system at once.
//
// Everything is synthetic. ID numbers carry valid GB 11643 check digits but the area code 110199,
// which no one has; phone numbers start with 100, which no mobile number does; names are drawn
// from common characters. The same seed always gives the same data.
package demo
