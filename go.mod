module github.com/zmqgo/zmq

go 1.26
