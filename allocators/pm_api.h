/* allocators/pm_api.h — what the libraries export. They are compiled with
 * -fvisibility=hidden (CMakeLists.txt), so every function and variable with
 * external linkage is hidden unless a public header declares it between
 * PM_API_BEGIN and PM_API_END; the public headers hold pm_* names only, and
 * tests/exports.sh fails the build's tests if any other name is exported.
 *
 * Hidden symbols still link between the objects of one program (static
 * libraries, the tests); they stay out of the dynamic symbol table of any
 * shared object or executable built from these objects, so that nothing
 * outside can bind to, or collide with, an internal name such as gc_track.
 * The preloaded recorder (PM_API_HIDDEN) exports nothing of this layer.
 */
#ifndef PM_API_H
#define PM_API_H

#if defined(PM_API_HIDDEN)
#define PM_API_BEGIN
#define PM_API_END
#else
#define PM_API_BEGIN _Pragma("GCC visibility push(default)")
#define PM_API_END _Pragma("GCC visibility pop")
#endif

#endif
