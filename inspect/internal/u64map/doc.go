// Package u64map is a map from uint64 to uint64 for keys the kernel hands
// out in order, such as socket cookies and inode numbers: the dedup of a
// listing, Diff, and the process table look sockets up in it.
package u64map
