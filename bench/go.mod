module github.com/zmqgo/zmq/bench

go 1.26

require github.com/zmqgo/zmq v0.0.0

replace github.com/zmqgo/zmq => ../
