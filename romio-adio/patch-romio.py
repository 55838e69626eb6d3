#!/usr/bin/env python3
"""patch-romio.py ROMIO_DIR - registers the HOMI driver in ROMIO: the `homi`
file system for --with-file-system, the `homi:` prefix (and so
ROMIO_FSTYPE_FORCE=homi:), and the MPI-IO hint homi=enable in MPI_File_open.
Two ROMIO versions are known: MPICH 4.0.2's (src/mpi/romio) and ROMIO 3.2.1
as carried by Open MPI 4.1 (ompi/mca/io/romio321/romio: patch_romio321).
Each edit is checked: a source that does not match fails loudly."""
import sys
from pathlib import Path

romio = Path(sys.argv[1])


def edit(rel, old, new, count=1):
    p = romio / rel
    s = p.read_text()
    if s.count(old) != count:
        sys.exit(f"patch-romio: {rel}: expected {count} match(es) of {old!r}")
    p.write_text(s.replace(old, new))


def patch_romio321():
    """ROMIO 3.2.1 inside Open MPI 4.1 (scripts/build-ompi-homi.sh).  Differs
    from MPICH 4.0's: an older file-system list, if/else prefix matching,
    an ops table chosen by `if (file_system == ...)` blocks and no SetLock
    entry in ADIOI_Fns (HOMI_ROMIO_321 tells ad_homi.c)."""
    edit("configure.ac",
         "[nfs ufs pfs pvfs pvfs2 testfs xfs panfs gridftp lustre gpfs zoidfs hfs piofs sfs])dnl",
         "[nfs ufs pfs pvfs pvfs2 testfs xfs panfs gridftp lustre gpfs zoidfs hfs piofs sfs homi])dnl")
    edit("configure.ac", """if test -n "$file_system_ufs"; then
    AC_DEFINE(ROMIO_UFS,1,[Define for ROMIO with UFS])
fi
""", """if test -n "$file_system_ufs"; then
    AC_DEFINE(ROMIO_UFS,1,[Define for ROMIO with UFS])
fi

# HOMI (romio-adio/ad_homi): libhomi comes from HOMI_LIBS (-L... -lhomi)
if test -n "$file_system_homi"; then
    AC_DEFINE(ROMIO_HOMI,1,[Define for ROMIO with HOMI])
    AC_DEFINE(HOMI_ROMIO_321,1,[ROMIO 3.2.1 (Open MPI 4.1): no SetLock in ADIOI_Fns])
    AS_IF([test -z "$HOMI_LIBS"], [AC_MSG_ERROR([homi file system needs HOMI_LIBS (-L<dir> -lhomi)])])
    LIBS="$LIBS $HOMI_LIBS"
fi
""")
    edit("adio/Makefile.mk", "include $(top_srcdir)/adio/ad_zoidfs/Makefile.mk\n",
         "include $(top_srcdir)/adio/ad_zoidfs/Makefile.mk\ninclude $(top_srcdir)/adio/ad_homi/Makefile.mk\n")
    edit("adio/include/adio.h", "#define ADIO_GPFS                  168\n",
         "#define ADIO_GPFS                  168\n#define ADIO_HOMI                172    /* HOMI (romio-adio/ad_homi) */\n")
    edit("adio/include/adioi_fs_proto.h", "#ifdef ROMIO_ZOIDFS\n", """#ifdef ROMIO_HOMI
extern struct ADIOI_Fns_struct ADIO_HOMI_operations;
void ADIOI_HOMI_SelectByHint(MPI_Info info, int *file_system, ADIOI_Fns ** ops, int *error_code);
#endif

#ifdef ROMIO_ZOIDFS
""")
    edit("adio/common/ad_fstype.c", """    else if (!strncmp(filename, "gpfs:", 5) || !strncmp(filename, "GPFS:", 5)) {
	*fstype = ADIO_GPFS;
    }
""", """    else if (!strncmp(filename, "gpfs:", 5) || !strncmp(filename, "GPFS:", 5)) {
	*fstype = ADIO_GPFS;
    }
#ifdef ROMIO_HOMI
    else if (!strncmp(filename, "homi:", 5) || !strncmp(filename, "HOMI:", 5)) {
	*fstype = ADIO_HOMI;
    }
#endif
""")
    edit("adio/common/ad_fstype.c", """#else
	*ops = &ADIO_ZOIDFS_operations;
#endif
    }
""", """#else
	*ops = &ADIO_ZOIDFS_operations;
#endif
    }
#ifdef ROMIO_HOMI
    if (file_system == ADIO_HOMI) {
	*ops = &ADIO_HOMI_operations;
    }
#endif
""")
    edit("mpi-io/open.c", """	goto fn_fail;
    }

    /* --END ERROR HANDLING-- */

    /* strip off prefix""", """	goto fn_fail;
    }

    /* --END ERROR HANDLING-- */
#ifdef ROMIO_HOMI
    /* the MPI-IO hint homi=enable selects the HOMI driver */
    ADIOI_HOMI_SelectByHint(info, &file_system, &fsops, &error_code);
    if (error_code != MPI_SUCCESS)
	goto fn_fail;
#endif

    /* strip off prefix""")


if "[Open MPI]" in (romio / "configure.ac").read_text():
    patch_romio321()
    print("patch-romio: ROMIO 3.2.1 (Open MPI) registers the homi driver")
    sys.exit(0)


edit("configure.ac", "[daos nfs ufs pvfs2 testfs xfs panfs lustre gpfs ime quobytefs])dnl",
     "[daos nfs ufs pvfs2 testfs xfs panfs lustre gpfs ime quobytefs homi])dnl")
edit("configure.ac", """if test -n "$file_system_ufs"; then
    AC_DEFINE(ROMIO_UFS,1,[Define for ROMIO with UFS])
fi
""", """if test -n "$file_system_ufs"; then
    AC_DEFINE(ROMIO_UFS,1,[Define for ROMIO with UFS])
fi

# HOMI (romio-adio/ad_homi): libhomi comes from HOMI_LIBS (-L... -lhomi)
if test -n "$file_system_homi"; then
    AC_DEFINE(ROMIO_HOMI,1,[Define for ROMIO with HOMI])
    AS_IF([test -z "$HOMI_LIBS"], [AC_MSG_ERROR([homi file system needs HOMI_LIBS (-L<dir> -lhomi)])])
    LIBS="$LIBS $HOMI_LIBS"
fi
""")
edit("adio/Makefile.mk", "include $(top_srcdir)/adio/ad_quobytefs/Makefile.mk\n",
     "include $(top_srcdir)/adio/ad_quobytefs/Makefile.mk\ninclude $(top_srcdir)/adio/ad_homi/Makefile.mk\n")
edit("adio/include/adio.h", "#define ADIO_QUOBYTEFS           171    /* Quobyte FS */\n",
     "#define ADIO_QUOBYTEFS           171    /* Quobyte FS */\n#define ADIO_HOMI                172    /* HOMI (romio-adio/ad_homi) */\n")
edit("adio/include/adioi_fs_proto.h", "#ifdef ROMIO_QUOBYTEFS\n", """#ifdef ROMIO_HOMI
extern struct ADIOI_Fns_struct ADIO_HOMI_operations;
void ADIOI_HOMI_SelectByHint(MPI_Info info, int *file_system, ADIOI_Fns ** ops, int *error_code);
#endif

#ifdef ROMIO_QUOBYTEFS
""")
edit("adio/common/ad_fstype.c", """#ifdef ROMIO_QUOBYTEFS
    {&ADIO_QUOBYTEFS_operations, ADIO_QUOBYTEFS, "quobyte:"},
#endif
""", """#ifdef ROMIO_QUOBYTEFS
    {&ADIO_QUOBYTEFS_operations, ADIO_QUOBYTEFS, "quobyte:"},
#endif
#ifdef ROMIO_HOMI
    {&ADIO_HOMI_operations, ADIO_HOMI, "homi:"},
#endif
""")
edit("mpi-io/open.c", """    ADIO_ResolveFileType(dupcomm, filename, &file_system, &fsops, &error_code);
    /* --BEGIN ERROR HANDLING-- */
    if (error_code != MPI_SUCCESS) {
        /* ADIO_ResolveFileType() will print as informative a message as it
         * possibly can or call MPIO_Err_setmsg.  We just need to propagate
         * the error up.
         */
        goto fn_fail;
    }
""", """    ADIO_ResolveFileType(dupcomm, filename, &file_system, &fsops, &error_code);
    /* --BEGIN ERROR HANDLING-- */
    if (error_code != MPI_SUCCESS) {
        /* ADIO_ResolveFileType() will print as informative a message as it
         * possibly can or call MPIO_Err_setmsg.  We just need to propagate
         * the error up.
         */
        goto fn_fail;
    }
#ifdef ROMIO_HOMI
    /* the MPI-IO hint homi=enable selects the HOMI driver */
    ADIOI_HOMI_SelectByHint(info, &file_system, &fsops, &error_code);
    if (error_code != MPI_SUCCESS)
        goto fn_fail;
#endif
""")
print("patch-romio: ROMIO registers the homi driver")
