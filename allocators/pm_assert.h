/* allocators/pm_assert.h — tiered assertions, chosen by one build option.
 *
 * PM_ASSERT_LEVEL: 0 none (release), 1 cheap (pm_assert), 2 internal
 * (pm_assert_internal: invariants of our own data structures), 3 expensive
 * (pm_assert_expensive: whole-heap walks, O(n) validity checks). Conditions
 * must have no side effects: they vanish below their level. A failed assert
 * calls pm_assert_fail, which calls the handler the harness installed (it
 * prints) or aborts; library code itself never prints.
 */
#ifndef PM_ASSERT_H
#define PM_ASSERT_H
#include "pm_api.h"

PM_API_BEGIN

#ifndef PM_ASSERT_LEVEL
#define PM_ASSERT_LEVEL 0
#endif

typedef void (*pm_assert_handler_fn)(const char *file, int line, const char *expr);
extern pm_assert_handler_fn pm_assert_handler;
_Noreturn void pm_assert_fail(const char *file, int line, const char *expr);

#define PM_ASSERT_AT(level, cond) \
    ((PM_ASSERT_LEVEL >= (level) && !(cond)) ? pm_assert_fail(__FILE__, __LINE__, #cond) : (void)0)

#if PM_ASSERT_LEVEL >= 1
#define pm_assert(cond) PM_ASSERT_AT(1, cond)
#else
#define pm_assert(cond) ((void)sizeof(!(cond)))
#endif
#if PM_ASSERT_LEVEL >= 2
#define pm_assert_internal(cond) PM_ASSERT_AT(2, cond)
#else
#define pm_assert_internal(cond) ((void)sizeof(!(cond)))
#endif
#if PM_ASSERT_LEVEL >= 3
#define pm_assert_expensive(cond) PM_ASSERT_AT(3, cond)
#else
#define pm_assert_expensive(cond) ((void)sizeof(!(cond)))
#endif

PM_API_END
#endif
