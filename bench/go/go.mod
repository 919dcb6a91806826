module triserve.bench/goserver

go 1.19
