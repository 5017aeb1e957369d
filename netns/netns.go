// Package netns runs code inside another network namespace, on an OS thread
// switched into it and back (setns(2)), leaving the rest of the process where
// it was, and opens namespaces by name or path, checking that they are
// network namespaces (ioctl_ns(2), NS_GET_NSTYPE).
package netns

import "errors"

// Dir is where ip-netns(8) keeps named namespaces.
const Dir = "/run/netns"

// ErrNotNetNS is wrapped by Open's error for a path that is not a network
// namespace.
var ErrNotNetNS = errors.New("not a network namespace")
