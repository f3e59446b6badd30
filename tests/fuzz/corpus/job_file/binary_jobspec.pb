
bin

aconst
badd"a"aJZpool:p
cadd*bRg