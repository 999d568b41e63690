from rjax.demo import main

main()
