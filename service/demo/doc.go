// Package demo fills an empty database with a believable synthetic plan: grassroots unions, a
// roster of members, two years of 医保 records and the settlement runs of every period that is
// already due, computed and approved through the real settlement and payment services, so that a
// newcomer sees a live system at once. It is true on the day it is made: a run whose promised
// arrival day has passed is paid (the banks' result files are synthetic: every transfer arrives
// on its promised date), a run within its promise is in transit or awaiting export; runs, lines,
// transfers and notices carry the dates they stand for; a third of the members follow the
// official account and got their notices there, the others by SMS.
//
// Everything is synthetic. ID numbers carry valid GB 11643 check digits but the area code 110199,
// which no one has; phone numbers start with 100, which no mobile number does; names are drawn
// from common characters. The same seed always gives the same data.
package demo
