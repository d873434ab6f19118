workloads = "service bigheap cycles"
gcs = "gen311 gen313 inc314 pep848"
