module github.com/sockstate/sockstate

go 1.26.8
