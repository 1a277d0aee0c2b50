/* Code of the parent project with a warning in it: it must still build,
 * since the bplustree3 subproject's warnings-as-errors is its own. */
int parent_warns(void);

int parent_warns(void)
{
    int unused;
    return 0;
}
