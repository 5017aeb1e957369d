package sockdiag

import (
	"context"
	"errors"
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

func TestDestroyNeedsCookie(t *testing.T) {
	socks := []inspect.Socket{{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Established, Inode: 7}}
	closed, err := (&Source{}).Destroy(context.Background(), socks)
	if !errors.Is(err, ErrNoCookie) || closed != nil {
		t.Errorf("Destroy of a socket without a cookie: %v, %v; want nothing closed and ErrNoCookie", closed, err)
	}
}
