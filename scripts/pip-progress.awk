# Shortens the output of `pip install -v` while llama-cpp-python compiles (scripts/install.sh): pip's own
# milestones, scikit-build-core's steps (its `*** ` lines) and the compile's progress in steps of 5%, read
# from ninja's `[done/total]` or make's `[ pct%]` line prefixes. Everything else (compiler command lines,
# downloads, warnings) is left out; the full output stays in the log file.
{
    line = $0
    sub(/^ +/, "", line)
}
line ~ /^\[ *[0-9]+\/[0-9]+\]/ {
    counts = line
    sub(/^\[ */, "", counts)
    sub(/\].*/, "", counts)
    split(counts, part, "/")
    done = part[1] + 0
    total = part[2] + 0
    if (total != last_total) {  # a new build
        last_total = total
        shown = -1
    }
    step = int(done * 20 / total)
    if (step > shown) {
        shown = step
        printf "  build step %d of %d (%d%%)\n", done, total, done * 100 / total
        fflush()
    }
    next
}
line ~ /^\[ *[0-9]+%\]/ {
    pct = line
    sub(/^\[ */, "", pct)
    sub(/%.*/, "", pct)
    step = int(pct / 5)
    if (step > shown_pct) {
        shown_pct = step
        printf "  build %d%% done\n", pct
        fflush()
    }
    next
}
# pip's own lines are not indented (indented ones come from a build, e.g. its build environment's install)
/^Successfully installed / {
    printf "  installed %d packages\n", NF - 2
    fflush()
    next
}
line ~ /^\*\*\* / || $0 ~ /^Building wheels? for/ || $0 ~ /^Successfully built/ || $0 ~ /^ERROR/ {
    print "  " line
    fflush()
}
