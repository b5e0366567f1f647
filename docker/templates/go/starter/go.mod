module __EXERCISE__

go 1.19
